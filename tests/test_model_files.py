"""Hostile model files are refused cheaply, with one error (ModelFileError) that says what is wrong.

Each case of the reliability issue (a member that inflates to far more than the config implies, a
config whose shapes the weights do not have, sizes of 10**12, deep JSON, a bad format_version,
flipped bits in the zip's structure, malformed members) first, then property-based tests
(hypothesis): random bytes, truncations, bit flips and configs either load a working model or raise
ModelFileError, never another exception.  Memory is measured with tracemalloc (NumPy reports its
allocations to it), never with timings.
"""
import copy
import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import rnnlab
from rnnlab import cli, layers
from rnnlab import io as rio
from rnnlab.layers.base import MAX_WEIGHT_ELEMENTS
from rnnlab.models.saving import MAX_CONFIG_DEPTH, ModelFileError, model_bytes
from rnnlab.optimizers import SGD

MB = 1 << 20


# ------------------------------------------------------------------------------ fixtures
def _named(units):
    return rnnlab.Sequential([layers.Embedding(20, 4, input_shape=(6,), name="embedding"),
                              layers.LSTM(units, name="lstm"), layers.Dense(1, name="dense")])


def _sequential():
    rnnlab.config.set_random_seed(1)
    m = _named(5)
    m.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).integers(0, 20, (16, 6))
    m.fit(x, np.linspace(0, 1, 16, dtype="float32")[:, None], epochs=1, verbose=0)
    return m


def _functional():
    rnnlab.config.set_random_seed(2)
    a, b = rnnlab.Input((5, 2), name="seq"), rnnlab.Input((3,), name="side")
    h = layers.Bidirectional(layers.GRU(3, return_sequences=True, name="gru"),
                             name="bidirectional")(a)
    h = layers.SimpleRNN(2, name="simple_rnn")(h)
    out = layers.Dense(1, name="dense")(layers.Concatenate(name="concatenate")([h, b]))
    m = rnnlab.Model([a, b], out)
    m.compile(optimizer=SGD(0.01, momentum=0.9), loss="mse")
    rng = np.random.default_rng(0)
    m.fit([rng.random((8, 5, 2)), rng.random((8, 3))], rng.random((8, 1)), epochs=1, verbose=0)
    return m


@pytest.fixture(scope="module")
def seq_file():
    return model_bytes(_sequential())


@pytest.fixture(scope="module")
def func_file():
    return model_bytes(_functional())


def members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}


def config_of(data: bytes) -> dict:
    return json.loads(members(data)["config.json"])


def with_members(data: bytes, **changes) -> bytes:
    """The file with members replaced (bytes), added, or removed (None), and a correct manifest:
    what a consistent tamper looks like, so that the loader's own checks are what is tested."""
    m = members(data)
    for name, value in changes.items():
        name = name.replace("_", ".")
        if value is None:
            m.pop(name, None)
        else:
            m[name] = value
    return rio.archive_bytes(m)


def with_config(data: bytes, cfg) -> bytes:
    return with_members(data, config_json=cfg if isinstance(cfg, bytes) else json.dumps(cfg)
                        .encode())


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k.replace("__", "/"): v for k, v in arrays.items()})
    return buf.getvalue()


def input_shapes(model):
    shapes = ([t.shape for t in model.inputs] if hasattr(model, "inputs")
              else [model._input_shape])
    return [(2,) + tuple(3 if s is None else s for s in shape[1:]) for shape in shapes]


def outcome(data: bytes):
    """Load ``data``: a loaded model must work (predict on zeros of its input shape, unless an
    axis is empty or too long to try), a refusal must be a ModelFileError with a message; any
    other exception fails the test."""
    try:
        model = rnnlab.load_model(data)
    except ModelFileError as exc:
        assert str(exc)
        return exc
    shapes = input_shapes(model)
    if all(0 < s <= 64 for shape in shapes for s in shape):
        xs = [np.zeros(shape, "float32") for shape in shapes]
        out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        assert len(out if not isinstance(out, list) else out[0]) == 2
    return model


def peak_bytes(fn):
    """The peak of traced memory (Python objects and NumPy arrays) while ``fn()`` runs."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def refusal(data, match):
    with pytest.raises(ModelFileError, match=match):
        rnnlab.load_model(data)


# ------------------------------------------------------------------------------ the real files
def test_real_files_load_and_predict_as_saved(seq_file, func_file):
    for make, data, x in ((_sequential, seq_file, np.ones((2, 6), dtype=int)),
                          (_functional, func_file, [np.ones((2, 5, 2)), np.ones((2, 3))])):
        original = make()
        loaded = rnnlab.load_model(data)
        np.testing.assert_array_equal(original.predict(x, verbose=0), loaded.predict(x, verbose=0))
        assert loaded.optimizer.iterations == original.optimizer.iterations
        mine = list(loaded.optimizer.state.values())
        theirs = list(original.optimizer.state.values())
        assert len(mine) == len(theirs) == len(original.get_weights())
        for slots, saved in zip(mine, theirs):
            assert len(slots) == len(saved)
            for a, b in zip(slots, saved):
                np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ sizes first
def _zip_bomb(data, size):
    """``data`` with weights.npz replaced by ``size`` zero bytes (deflated to ~size/1000)."""
    zeros = bytes(size)
    m = members(data)
    m["weights.npz"] = zeros
    return rio.archive_bytes(m)


def test_member_declared_bigger_than_the_config_implies_is_refused_before_inflating(seq_file):
    bomb = _zip_bomb(seq_file, 64 * MB)
    assert len(bomb) < MB
    peak = peak_bytes(lambda: refusal(bomb, r"'weights.npz' would inflate to 67,108,864 bytes, "
                                            r"more than the [\d,]+ it may hold"))
    assert peak < 4 * MB          # nothing of the 64 MiB was inflated


def _patch_sizes(data, name, size):
    """Rewrite the uncompressed size that the zip headers (local and central) give ``name``."""
    b = bytearray(data)
    raw = name.encode()
    pos = 0
    while (pos := b.find(b"PK\x03\x04", pos)) >= 0:
        if b[pos + 30:pos + 30 + len(raw)] == raw:
            struct.pack_into("<I", b, pos + 22, size)
        pos += 4
    pos = 0
    while (pos := b.find(b"PK\x01\x02", pos)) >= 0:
        if b[pos + 46:pos + 46 + len(raw)] == raw:
            struct.pack_into("<I", b, pos + 24, size)
        pos += 4
    return bytes(b)


def test_a_lying_header_cannot_inflate_past_the_limit(seq_file):
    liar = _patch_sizes(_zip_bomb(seq_file, 64 * MB), "weights.npz", 4000)
    with zipfile.ZipFile(io.BytesIO(liar)) as zf:
        assert zf.getinfo("weights.npz").file_size == 4000
    peak = peak_bytes(lambda: refusal(liar, "truncated or corrupted"))
    assert peak < 4 * MB


def test_config_json_and_manifest_have_fixed_limits(seq_file):
    big = json.dumps(config_of(seq_file)) + " " * (17 * MB)
    refusal(with_config(seq_file, big.encode()), "'config.json' would inflate to")
    m = members(seq_file)
    with zipfile.ZipFile(buf := io.BytesIO(), "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in m.items():
            zf.writestr(n, d)
        zf.writestr("manifest.json", b" " * (2 * MB))
    refusal(buf.getvalue(), "'manifest.json' would inflate to")


def test_config_shapes_are_checked_against_the_npy_headers_before_building(seq_file):
    # the 4 KB file: units=3000 allocated 1.4 GB (and took seconds) before the check
    cfg = config_of(seq_file)
    cfg["config"]["layers"][1]["config"]["units"] = 3000
    crafted = with_config(seq_file, cfg)
    assert len(crafted) < 8 * 1024
    peak = peak_bytes(lambda: refusal(
        crafted, r"weights.npz: array lstm/kernel has shape \(4, 20\), expected \(4, 12000\)"))
    assert peak < 4 * MB


@pytest.mark.parametrize("where, key, match", [
    (2, "units", "Layer 'dense' \\(Dense\\) weight 'kernel' of shape \\(5, 1000000000000\\) "
                 "would hold 5,000,000,000,000 elements.*check units=1000000000000"),
    (0, "input_dim", "Layer 'embedding' \\(Embedding\\) weight 'embeddings'.*"
                     "check input_dim=1000000000000"),
    (1, "units", "\\(LSTMCell\\) weight 'kernel'.*check units=1000000000000.*layer 'lstm'"),
])
def test_sizes_of_10_to_the_12_in_a_config_are_refused(seq_file, where, key, match):
    cfg = config_of(seq_file)
    cfg["config"]["layers"][where]["config"][key] = 10 ** 12
    peak = peak_bytes(lambda: refusal(with_config(seq_file, cfg), match))
    assert peak < 4 * MB


def test_layers_refuse_weights_over_the_element_limit_naming_the_argument():
    cases = [(layers.Dense(10 ** 12), (None, 8), r"Dense\) weight 'kernel'.*check units="),
             (layers.Embedding(10 ** 12, 8), (None, 3), r"'embeddings'.*check input_dim="),
             (layers.Embedding(10, 10 ** 12), (None, 3), r"'embeddings'.*check output_dim="),
             (layers.LSTM(10 ** 12), (None, 4, 2), r"LSTMCell\) weight 'kernel'.*check units="),
             (layers.Conv1D(10 ** 12, 3), (None, 9, 2), r"'kernel'.*check filters="),
             (layers.Dense(2), (None, 10 ** 12), r"check the input's shape")]
    for layer, shape, match in cases:
        with pytest.raises(ValueError, match=match):
            layer.build(shape)
        assert not layer.params          # nothing half-made
    # the limit itself is allowed (and allocated lazily by the OS): only the count is checked
    assert MAX_WEIGHT_ELEMENTS == 2 ** 31
    with pytest.raises(ValueError, match="2,147,483,649 elements"):
        layers.Dense(2 ** 31 + 1).build((None, 1))


def test_deep_config_is_refused(seq_file):
    cfg = config_of(seq_file)
    deep = json.dumps(cfg)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    refusal(with_config(seq_file, deep.encode()), f"nested deeper than {MAX_CONFIG_DEPTH}")
    nested = {"format": "rnnlab-model", "format_version": 1}
    for _ in range(MAX_CONFIG_DEPTH + 1):
        nested = {"class_name": "Sequential", "config": nested}
    refusal(with_config(seq_file, nested), "nested deeper")


@pytest.mark.parametrize("version", [-7, 0, "1", 1.0, True, None, [1]])
def test_unsupported_format_versions_are_refused(seq_file, version):
    cfg = config_of(seq_file)
    cfg["format_version"] = version
    refusal(with_config(seq_file, cfg), r"format_version must be one of \[1\], got")
    cfg["format_version"] = 2
    refusal(with_config(seq_file, cfg), "newer than this rnnlab understands")
    del cfg["format_version"]
    refusal(with_config(seq_file, cfg), "format_version")


# ------------------------------------------------------------------------------ the zip structure
def _structural_bits(data):
    """Every bit of the central directory and its end record, except the fields that only
    describe (version made by, time, date, attributes)."""
    start = data.find(b"PK\x01\x02")
    descriptive = set()
    pos = start
    while data[pos:pos + 4] == b"PK\x01\x02":
        for lo, hi in ((4, 6), (12, 16), (36, 42)):
            descriptive.update(range(pos + lo, pos + hi))
        pos += 46 + sum(struct.unpack_from("<HHH", data, pos + 28))
    return [bit for byte in range(start, len(data)) if byte not in descriptive
            for bit in range(8 * byte, 8 * byte + 8)]


def test_encrypted_flag_and_every_structural_bit_of_the_zip_directory(seq_file):
    """The issue's crafted files: flipped bits in the headers raised RuntimeError ("encrypted"),
    ValueError (negative seek) and others.  Every structural bit of the central directory and its
    end record now gives ModelFileError or the very model that was saved."""
    start = seq_file.find(b"PK\x01\x02")
    b = bytearray(seq_file)
    b[start + 8] |= 1                       # general purpose flag bit 0: encrypted
    refusal(bytes(b), "encrypted")
    saved = rnnlab.load_model(seq_file).get_weights()
    bits = _structural_bits(seq_file)
    loaded = 0
    for bit in bits:
        b = bytearray(seq_file)
        b[bit // 8] ^= 1 << (bit % 8)
        try:
            model = rnnlab.load_model(bytes(b))
        except ModelFileError:
            continue
        loaded += 1
        for x, y in zip(saved, model.get_weights()):
            np.testing.assert_array_equal(x, y)
    assert len(bits) > 1000 and 0 < loaded < len(bits)


def test_members_are_exactly_the_expected_ones(seq_file):
    refusal(with_members(seq_file, extra_bin=b"x"), r"unexpected members \['extra.bin'\]")
    refusal(with_members(seq_file, weights_npz=None), "holds no weights.npz")
    refusal(with_members(seq_file, config_json=None), "no config.json")
    m = members(seq_file)
    with zipfile.ZipFile(buf := io.BytesIO(), "w") as zf:
        for n, d in m.items():
            zf.writestr(n, d)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("config.json", m["config.json"])
        zf.writestr("manifest.json", json.dumps({n: rio.sha256_hex(d) for n, d in m.items()}))
    refusal(buf.getvalue(), "'config.json' appears twice")


def test_weight_arrays_are_checked_from_their_headers(seq_file):
    model = rnnlab.load_model(seq_file)
    good = {k: v for layer in model.layers for k, v in
            ((f"{layer.name}__{p}", a) for p, a in layer.params.items())}
    refusal(with_members(seq_file, weights_npz=npz(**{**good, "dense__bias": np.zeros(2)})),
            r"array dense/bias has shape \(2,\), expected \(1,\)")
    refusal(with_members(seq_file, weights_npz=npz(**{**good, "dense__bias": np.zeros(1, int)})),
            "array dense/bias holds int64 values, expected float16, float32 or float64")
    refusal(with_members(seq_file, weights_npz=npz(**{**good, "dense__bias": np.array(
        [{"a": 1}], dtype=object)})), "array dense/bias holds object values")
    refusal(with_members(seq_file, weights_npz=npz(**{**good, "dense__bias": np.zeros(
        1, complex)})), "holds complex128 values")
    refusal(with_members(seq_file, weights_npz=npz(**good, extra=np.zeros(1))),
            r"holds arrays .*'extra'.*, expected")
    less = dict(good)
    del less["dense__bias"]
    refusal(with_members(seq_file, weights_npz=npz(**less)), r"lacks arrays \['dense/bias'\]")
    refusal(with_members(seq_file, weights_npz=b"not a zip"), "weights.npz is not a readable .npz")
    # a header that promises more data than the member holds, or less
    for shape in (b"(9,)", b"(0,)"):
        with zipfile.ZipFile(io.BytesIO(npz(**good))) as zf, \
                zipfile.ZipFile(buf := io.BytesIO(), "w") as out:
            for name in zf.namelist():
                raw = zf.read(name)
                if name == "dense/bias.npy":
                    raw = raw.replace(b"'shape': (1,)", b"'shape': " + shape)
                out.writestr(name, raw)
        refusal(with_members(seq_file, weights_npz=buf.getvalue()),
                r"dense/bias has shape \(%s,\)" % shape[1:2].decode())
    # float64 and Fortran-ordered arrays are fine (cast on assignment)
    wide = {k: np.asfortranarray(v.astype(np.float64)) for k, v in good.items()}
    again = rnnlab.load_model(with_members(seq_file, weights_npz=npz(**wide)))
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_state_is_checked(seq_file):
    model = rnnlab.load_model(seq_file)
    state = {f"{k.replace('/', '__')}__{i}": s for k, slots in model.optimizer.state.items()
             for i, s in enumerate(slots)}
    bad = dict(state, dense__bias__0=np.zeros(3, np.float32))
    refusal(with_members(seq_file, optimizer_npz=npz(**bad)),
            r"optimizer.npz: array dense/bias/0 has shape \(3,\), expected \(1,\)")
    half = dict(state)
    del half["dense__bias__1"]
    refusal(with_members(seq_file, optimizer_npz=npz(**half)), "only some of the 2 slots")
    refusal(with_members(seq_file, optimizer_npz=npz(**state, dense__bias__2=np.zeros(1))),
            "holds arrays")
    # no state at all is fine (a model compiled but never fitted), and compile=False skips it
    assert rnnlab.load_model(with_members(seq_file, optimizer_npz=npz())).optimizer.state == {}
    assert rnnlab.load_model(with_members(seq_file, optimizer_npz=b"junk"),
                             compile=False).optimizer is None


def test_a_layer_frozen_after_training_keeps_its_optimizer_slots():
    model = _sequential()
    model.layers[1].trainable = False
    again = rnnlab.load_model(model_bytes(model))
    assert again.layers[1].trainable is False
    assert again.optimizer.state.keys() == model.optimizer.state.keys()
    assert "lstm/kernel" in again.optimizer.state


def test_malformed_configs_name_what_is_wrong(seq_file, func_file):
    def change(data, fn):
        cfg = config_of(data)
        fn(cfg)
        return with_config(data, cfg)

    cases = [
        (seq_file, lambda c: c.update(format="zip"), "format is not 'rnnlab-model'"),
        (seq_file, lambda c: c.update(class_name="Nope"), "Unknown model class 'Nope'"),
        (seq_file, lambda c: c.update(config=[]), "lacks the model's class_name and config"),
        (seq_file, lambda c: c["config"].pop("layers"), "Sequential config has no 'layers'"),
        (seq_file, lambda c: c["config"].update(input_shape=[None, -6]), "input_shape"),
        (seq_file, lambda c: c["config"]["layers"][1].update(class_name="LSTMX"),
         "Unknown layer class 'LSTMX'"),
        (seq_file, lambda c: c["config"]["layers"][1]["config"].update(units="5"), "units"),
        (seq_file, lambda c: c["config"]["layers"][1]["config"].update(bogus=1), "bogus"),
        (seq_file, lambda c: c["config"]["layers"][2]["config"].update(
            kernel_initializer={"class_name": 3}), "initializer"),
        (seq_file, lambda c: c["compile"].update(iterations=-1), "iterations"),
        (seq_file, lambda c: c["compile"].update(loss=[]), "'loss' is empty"),
        (seq_file, lambda c: c["compile"].update(optimizer={"class_name": "Adam",
                                                            "config": {"beta_9": 1}}), "beta_9"),
        (seq_file, lambda c: c.update(compile=7), "compile settings are not an object"),
        (func_file, lambda c: c["config"]["nodes"][0].update(layer=-1), "node 0's layer"),
        (func_file, lambda c: c["config"]["nodes"][1]["inputs"][0].__setitem__(0, 5),
         "node index"),
        (func_file, lambda c: c["config"]["outputs"][0].__setitem__(1, True), "output index"),
        (func_file, lambda c: c["config"]["inputs"][0].update(batch_shape="x"), "batch_shape"),
        (func_file, lambda c: c["config"]["nodes"][0].pop("multi_input"), "'multi_input'"),
    ]
    for data, fn, match in cases:
        refusal(change(data, fn), match)


def test_load_weights_is_checked_and_changes_nothing_when_refused(seq_file, tmp_path):
    model = _named(5)
    before = model.get_weights()
    other = _named(6)
    path = tmp_path / "w.rnnlab"
    other.save_weights(path)
    with pytest.raises(ModelFileError, match=r"array lstm/kernel has shape \(4, 24\), expected"):
        model.load_weights(path)
    path.write_bytes(_zip_bomb(seq_file, 8 * MB))
    with pytest.raises(ModelFileError, match="would inflate to"):
        model.load_weights(path)
    path.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.load_weights(seq_file)       # a whole model file holds the weights too


def test_predict_command_prints_one_error_line_for_a_crafted_model(seq_file, tmp_path):
    series = tmp_path / "s.csv"
    series.write_text("v\n" + "".join(f"{i % 7}\n" for i in range(30)))
    bundle = tmp_path / "m.model"
    res = CliRunner().invoke(cli.main, ["train", "--data", str(series), "--task", "forecast",
                                        "--column", "v", "--window", "4", "--epochs", "1",
                                        "--out", str(bundle)])
    assert res.exit_code == 0, res.output
    inner = members(bundle.read_bytes())
    cfg = config_of(inner["model.rnnlab"])
    cfg["format_version"] = -7
    inner["model.rnnlab"] = with_config(inner["model.rnnlab"], cfg)
    bundle.write_bytes(rio.archive_bytes(inner))
    res = CliRunner().invoke(cli.main, ["predict", "--model", str(bundle), "--data", str(series)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output
    assert "format_version must be one of [1], got -7" in res.stderr


# ------------------------------------------------------------------------------ properties
@given(st.binary(max_size=300) | st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))
def test_random_bytes_are_refused(data):
    with pytest.raises(ModelFileError):
        rnnlab.load_model(data)


@given(st.data())
def test_truncated_files_are_refused(seq_file, data):
    cut = data.draw(st.integers(0, len(seq_file) - 1), label="length")
    with pytest.raises(ModelFileError):
        rnnlab.load_model(seq_file[:cut])


@given(st.data())
def test_single_bit_flips_load_a_working_model_or_are_refused(seq_file, func_file, data):
    for file in (seq_file, func_file):
        bit = data.draw(st.integers(0, 8 * len(file) - 1), label="bit")
        b = bytearray(file)
        b[bit // 8] ^= 1 << (bit % 8)
        outcome(bytes(b))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10 ** 13) | st.floats() | st.text(max_size=6)
    | st.sampled_from(["Dense", "LSTM", "Sequential", "input", "relu", "adam", "mse"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["class_name", "config", "units", "layers", "name", "x"]) | st.text(
            max_size=4), inner, max_size=3),
    max_leaves=10)


@given(JSON)
def test_random_configs_are_refused_or_load(seq_file, cfg):
    outcome(with_config(seq_file, cfg))


def _paths(node, path=()):
    yield path
    items = (node.items() if isinstance(node, dict) else enumerate(node)
             if isinstance(node, list) else ())
    for k, v in items:
        yield from _paths(v, path + (k,))


@given(st.data())
def test_mutated_configs_are_refused_or_load_a_working_model(seq_file, func_file, data):
    """One value anywhere in a real config replaced by random JSON, or removed: the config
    parser, the registries and the layers' argument checks all see hostile values."""
    file = data.draw(st.sampled_from([seq_file, func_file]), label="file")
    cfg = config_of(file)
    path = data.draw(st.sampled_from(list(_paths(cfg))[1:]), label="path")
    parent = cfg
    for k in path[:-1]:
        parent = parent[k]
    if data.draw(st.booleans(), label="remove") and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON, label="value")
    outcome(with_config(file, copy.deepcopy(cfg)))
