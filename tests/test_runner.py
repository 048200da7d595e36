"""Runner pieces: bucket parts never split a person."""

import pyarrow as pa

from jinbao.runner import person_chunks


def test_person_chunks_keep_each_person_whole_and_cover_every_row():
    ids = [f"{110105194912310000 + i * 7919:018d}" for i in range(5000)] * 3  # 3 rows a person
    table = pa.table({"id_number": ids, "n": list(range(len(ids)))})
    parts = list(person_chunks(table, buckets=8, chunk_rows=2000))
    assert len(parts) == 8
    seen = [set(p["id_number"]) for p in parts]
    assert sum(len(p) for p in parts) == len(ids)
    assert all(a.isdisjoint(b) for i, a in enumerate(seen) for b in seen[i + 1:])
    assert all(len(p) < 4000 for p in parts)
