import json

import numpy as np
import pytest

from rnnlab.data.text import UNK, TokenStream, Vocab, read_ascii_char_ids, read_text, split_ids
from rnnlab.errors import RnnlabError

TEXT = "Hello, world!\n  The cat's hat -- 42 times.\tÜber café.\n"


def test_read_text_ok(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(TEXT, encoding="utf-8")
    assert read_text(p) == TEXT


def test_read_text_errors(tmp_path):
    with pytest.raises(RnnlabError, match="not found"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(RnnlabError, match="directory"):
        read_text(tmp_path)
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(RnnlabError, match="empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "bad.txt").write_bytes(b"abc\xffdef")
    with pytest.raises(RnnlabError, match=r"byte offset 3.*latin-1"):
        read_text(tmp_path / "bad.txt")
    assert read_text(tmp_path / "bad.txt", encoding="latin-1") == "abc\xffdef"


@pytest.mark.parametrize("level", ["char", "word"])
def test_vocab_round_trip(level):
    v = Vocab.build(TEXT, level)
    ids = v.encode(TEXT)
    assert ids.dtype == np.uint8
    assert v.decode(ids) == TEXT
    assert v.tokens == sorted(set(v.tokens))
    v2 = Vocab.from_json(json.loads(json.dumps(v.to_json())))
    assert v2 == v and v2.size == v.size and v2.level == level
    assert np.array_equal(v2.encode(TEXT), ids)


def test_word_tokens_separate_words_punctuation_space():
    v = Vocab.build("the cat, the  hat.\n", "word")
    assert set(v.tokens) == {"the", "cat", ",", " ", "hat", ".", "  ", "\n", UNK}
    assert v.decode(v.encode("the hat, the cat.")) == "the hat, the cat."


def test_char_ids_match_tokens():
    v = Vocab.build("banana", "char")
    assert v.tokens == [UNK, "a", "b", "n"] and v.unk_id == 0
    assert v.encode("nab").tolist() == [3, 1, 2]


def test_vocab_dtype_grows():
    text = "".join(chr(0x100 + i) for i in range(300))
    v = Vocab.build(text)
    assert v.encode(text).dtype == np.uint16
    assert v.decode(v.encode(text)) == text


def test_vocab_errors():
    with pytest.raises(RnnlabError, match="at least 2 distinct"):
        Vocab.build("aaaa")
    with pytest.raises(RnnlabError, match="level"):
        Vocab.build("ab", "byte")
    v = Vocab.build("hello world", "char")
    with pytest.raises(RnnlabError, match=r"'z' at character 2"):
        v.encode("hez", unknown="error")
    w = Vocab.build("hello world", "word")
    with pytest.raises(RnnlabError, match=r"'there' at character 6"):
        w.encode("hello there", unknown="error")
    old = Vocab(list("ab"), "char")                    # saved before <unk>: strict by default
    with pytest.raises(RnnlabError, match=r"'z' at character 1"):
        old.encode("az")
    with pytest.raises(RnnlabError, match="no <unk>"):
        old.encode("az", unknown="map")
    with pytest.raises(RnnlabError, match="outside"):
        v.decode([0, 99])
    with pytest.raises(RnnlabError, match="tokens"):
        Vocab.from_json({"level": "char"})


def test_split_ids_takes_val_from_end():
    ids = np.arange(100, dtype=np.uint8)
    tr, va = split_ids(ids, 0.1)
    assert tr.tolist() == list(range(90)) and va.tolist() == list(range(90, 100))
    assert np.shares_memory(tr, ids)
    tr, va = split_ids(ids, 0.0)
    assert len(tr) == 100 and len(va) == 0
    for bad in (-0.1, 0.6):
        with pytest.raises(RnnlabError, match=r"\[0, 0.5\]"):
            split_ids(ids, bad)


def test_token_stream_shapes_and_shift():
    ids = np.arange(1000, dtype=np.uint16)
    s = TokenStream(ids, batch=4, seq_len=10)
    assert s.stream_len == 249 and s.batches_per_epoch == 24
    x, y = s.get(0)
    assert x.shape == (10, 4) and y.shape == (10, 4) and x.dtype == np.int64
    assert np.array_equal(y, x + 1)
    # column b is stream b: starts at b * stream_len
    assert x[0].tolist() == [0, 249, 498, 747]


def test_token_stream_contiguity_and_modulo():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=5000).astype(np.uint8)
    s = TokenStream(ids, batch=3, seq_len=7)
    for k in range(s.batches_per_epoch - 1):
        x0, y0 = s.get(k)
        x1, _ = s.get(k + 1)
        # row b of batch k+1 continues row b of batch k
        assert np.array_equal(x1[0], y0[-1])
        assert np.array_equal(x0[1:], y0[:-1])
    for a, b in zip(s.get(s.batches_per_epoch + 2), s.get(2)):
        assert np.array_equal(a, b)
    # the stream's views share memory with the ids (no copy of the corpus)
    assert np.shares_memory(s._x, ids) and np.shares_memory(s._y, ids)


def test_token_stream_errors():
    with pytest.raises(RnnlabError, match=r"needs 41.*--batch/--seq-len"):
        TokenStream(np.arange(40), batch=4, seq_len=10)
    TokenStream(np.arange(41), batch=4, seq_len=10)
    with pytest.raises(RnnlabError, match="batch"):
        TokenStream(np.arange(100), batch=0, seq_len=10)
    with pytest.raises(RnnlabError, match="1-D integer"):
        TokenStream(np.zeros((10, 10)), batch=1, seq_len=2)


# ------------------------------------------------------------------ <unk>

def test_unseen_tokens_map_to_unk_and_are_counted():
    v = Vocab.build("hello world", "char")
    ids, unknown = v.encode_counted("hé, wörld!")
    assert ids.tolist() == v.encode("h?? w?rld?".replace("?", "z")).tolist()   # z: also unseen
    assert unknown.count == 4 and dict(unknown.tokens) == {"é": 1, ",": 1, "ö": 1, "!": 1}
    assert v.decode(v.encode("héllo")) == f"h{UNK}llo"
    w = Vocab.build("the cat sat", "word")
    ids, unknown = w.encode_counted("the zebra sat on the cat")
    assert w.decode(ids) == f"the {UNK} sat {UNK} the cat"
    assert unknown.count == 2 and unknown.examples() == ["'zebra'", "'on'"]


def test_skip_drops_unknown_tokens_and_counts_them():
    old = Vocab(list(" adhorwel"), "char")             # a vocabulary saved before <unk>
    ids, unknown = old.encode_counted("hello, wörld", unknown="skip")
    assert old.decode(ids) == "hello wrld" and unknown.count == 2
    w = Vocab(["a", " ", "b"], "word")
    ids, unknown = w.encode_counted("a c b", unknown="skip")
    assert w.decode(ids) == "a  b" and unknown.count == 1


def test_min_count_and_max_vocab_map_rare_tokens_to_unk():
    text = "aaaa bbb cc d"
    v = Vocab.build(text, "char", min_count=2)
    assert v.tokens == [" ", UNK, "a", "b", "c"]            # 'd' once: <unk>
    assert v.decode(v.encode(text)) == f"aaaa bbb cc {UNK}"
    w = Vocab.build("x x x y y z", "word", max_vocab=3)      # <unk> and the 2 most frequent
    assert w.tokens == [" ", UNK, "x"]
    with pytest.raises(RnnlabError, match="--min-count"):
        Vocab.build("abcd", "char", min_count=2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RnnlabError, match="--min-count"):
            Vocab.build(text, "char", min_count=bad)
    with pytest.raises(RnnlabError, match="--max-vocab"):
        Vocab.build(text, "char", max_vocab=2)


def test_vocab_json_old_and_new():
    v = Vocab.build("hello world")
    assert v.to_json()["unk"] == UNK and Vocab.from_json(v.to_json()) == v
    old = Vocab.from_json({"level": "char", "tokens": list(" dehlorw")})   # before <unk>
    assert not old.has_unk and old.size == 8
    with pytest.raises(RnnlabError, match="damaged"):
        Vocab.from_json({"level": "char", "tokens": list("ab"), "unk": UNK})


@pytest.mark.parametrize("min_count", [1, 2, 50])
def test_fast_path_equals_general_path_with_min_count(tmp_path, min_count):
    path = tmp_path / "t.txt"
    path.write_bytes(b"The quick brown fox.\n" * 30 + b"~{|}" + b"zz")
    vocab, ids = read_ascii_char_ids(path, chunk=100, min_count=min_count)
    general = Vocab.build(read_text(path), "char", min_count=min_count)
    assert vocab == general and np.array_equal(ids, general.encode(read_text(path)))
    vocab, ids = read_ascii_char_ids(path, max_vocab=5)
    general = Vocab.build(read_text(path), "char", max_vocab=5)
    assert vocab == general and np.array_equal(ids, general.encode(read_text(path)))
    # a known vocab with <unk> maps the chars it lacks to it, as the general path does
    small = Vocab.build("The quick", "char")
    assert np.array_equal(read_ascii_char_ids(path, vocab=small)[1], small.encode(read_text(path)))


@pytest.mark.parametrize("content,why", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "NUL byte at offset 8"),
    (bytes([1, 2, 3, 4, 5, 6, 7, 65]) * 100, "control bytes"),
])
def test_binary_file_is_named_binary(tmp_path, content, why):
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    for encoding in ("utf-8", "latin-1"):
        with pytest.raises(RnnlabError, match=f"looks binary.*{why}"):
            read_text(path, encoding)
        assert read_ascii_char_ids(path, encoding) is None      # the fast path defers to it
    path.write_text("plain text\twith a tab\r\n", encoding="utf-16")
    assert read_text(path, "utf-16") == "plain text\twith a tab\r\n"   # NULs are fine there
