"""scripts/profile_wasm.py's reading of V8's --prof log: ticks by function, computing only."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from profile_wasm import computing_ticks  # noqa: E402

LOG = [
    "v8-version,13,0,0,0,0,0",
    "code-creation,JS,5,100,0x1000,256,ggml_vec_dot_q5_0_q8_0,0x0,",
    "code-creation,JS,5,100,0x2000,256,llama_context::decode(llama_batch_ext const&),0x0,",
    "code-creation,JS,5,100,0x3000,256,ggml_graph_compute_secondary_thread,0x0,",
    "code-creation,JS,5,100,0x4000,256,flash_attn_one_chunk(ggml_tensor*\\x2C int),0x0,+'",
    "code-creation,JS,5,100,0x6000,256,load_all_data,0x0,",
    "tick,0x1010,200,0,0x0,0,0x2010",  # in a kernel, called under decode: counted
    "tick,0x1010,210,0,0x0,0",  # no stack: not computing
    "tick,0x6010,220,0,0x0,0,0x6000",  # loading the model: not computing
    "code-move,0x4000,0x5000",
    "tick,0x5004,300,0,0x0,0,0x3008",  # moved code, on a compute thread: its new address
    "tick,0x4004,310,0,0x0,0,0x3008",  # the old address holds nothing now
    "code-delete,0x1000",
    "tick,0x1010,400,0,0x0,0,0x2010",
]


def test_ticks_count_by_function_while_computing_only():
    assert computing_ticks(LOG) == Counter(
        {"ggml_vec_dot_q5_0_q8_0": 1, "flash_attn_one_chunk": 1, "(unknown)": 2}
    )
