"""A knowledge base in Milvus: milvus-lite for a local file (`RAG_MILVUS_URI=path/kb.db`), or a Milvus
server or cluster (`RAG_MILVUS_URI=http://host:19530`), the same code.

    client.py    the client pool: one client per URI and process, the collections it has loaded
    schema.py    the five collections `<prefix>_<kind>` and the rows that go into them
    terms.py     BM25 as sparse vectors (the formula of rag.store.bm25), terms hashed to 32 bits
    snapshot.py  one published generation, read (MilvusSnapshot)
    store.py     the generation protocol: open the live generation, write the next (MilvusStore)

Every write is a new generation, published by one `meta` row inserted last: a crash at any moment
leaves the previous one answering, whole (store.py). BM25 is computed on our side over the same
Chinese character terms as the files store; avgdl is the one at the time a row was written: the
same as the files store after a full build, drifting a little with later updates (length
normalisation only). Both searches are ours to fuse (Milvus's hybrid search returns no per-side
scores).
"""

from rag.store.milvus.client import release_clients
from rag.store.milvus.snapshot import MilvusSnapshot
from rag.store.milvus.store import MilvusStore
from rag.store.milvus.terms import term_id

__all__ = ["MilvusSnapshot", "MilvusStore", "release_clients", "term_id"]
