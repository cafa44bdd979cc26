"""A pass over a Parquet file larger than a few of its row groups keeps a bounded footprint:
pyarrow's buffers for the rows already read are released as the pass goes on (issue 18)."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rnnlab.data.text_files import TextFileDataset
from rnnlab.preprocessing.text import Tokenizer


def test_streaming_a_parquet_file_does_not_hold_what_it_has_read(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array(["w%d" % i for i in range(5000)])
    texts = [" ".join(rng.choice(words, size=200)) for _ in range(20000)]   # ~20 MB of text
    table = pa.table({"text": texts, "label": rng.integers(0, 2, size=len(texts))})
    path = tmp_path / "reviews.parquet"
    pq.write_table(table, path, row_group_size=500, compression="none")
    del table
    tok = Tokenizer(num_words=1000)
    tok.fit_on_texts(texts[:200])
    size = path.stat().st_size
    data = TextFileDataset(path, tok, batch_size=64, maxlen=50, chunk_rows=256)
    base = pa.total_allocated_bytes()
    held, n = 0, 0
    for x, y in data:
        held = max(held, pa.total_allocated_bytes() - base)
        n += len(x)
    assert n == len(texts)
    assert size > 15e6
    assert held < size / 8, f"pyarrow held {held / 1e6:.1f} MB of a {size / 1e6:.1f} MB file"
