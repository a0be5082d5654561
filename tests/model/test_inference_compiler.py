"""The inference compiler (model/compiler.py, model/kernels.py): each fused step against the plain
``Sequential`` eval-mode forward, on random weights and several batch sizes, and the buffers' reuse."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from model import BatchNormalization, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, manual_seed
from model.compiler import CHUNK, KEPT_SIZES, SPATIAL_CHUNK, Program, compile_program
from model.inference import InferenceNetwork, compile_ops
from model.kernels import ConvIm2col, run_calls
from model.winograd import ConvWinograd

BATCHES = (1, 2, 3, 16, CHUNK + 5)  # one, two and three (a linear layer row by row), the service's batch, over a chunk


def randomized(layers: list, seed: int = 0) -> Sequential:
    """``layers`` with random biases and BatchNorm statistics (zero biases would hide a missing bias)."""
    manual_seed(seed)
    net = Sequential(layers)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        for name, value in layer.named_arrays().items():
            if isinstance(layer, BatchNormalization):
                low = 0.5 if name in ("weight", "running_var") else -0.5
                layer.load_array(name, rng.uniform(low, 1.5, value.shape))
            elif name == "bias":
                layer.load_array(name, rng.normal(0, 0.3, value.shape))
    return net.eval()


def compiled(net: Sequential, chw: tuple[int, int, int]) -> Program:
    program = compile_program(compile_ops(net), chw)
    assert program is not None
    return program


def check(net: Sequential, chw: tuple[int, int, int], steps: list[str], batches: tuple[int, ...] = BATCHES) -> None:
    """The compiled program's logits equal the eval-mode forward's within 1e-5, at every batch size."""
    program = compiled(net, chw)
    assert [s.name for s in program.steps] == steps
    rng = np.random.default_rng(1)
    for n in batches:
        x = rng.normal(0, 1, (n, *chw)).astype(np.float32)
        expected = net.logits(x)
        for _ in range(2):  # the second call runs on the reused buffers
            got = program(x)
            assert got.shape == expected.shape and got.dtype == np.float32
            np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def head(features: int) -> list:
    return [Flatten(), Linear(features, 10)]


def test_first_convolution_one_channel_pooled_and_rectified() -> None:
    # C = 1: taps-major columns read transposed by the GEMM; 2x2 pooling over phase-major rows.
    net = randomized([Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2), *head(8 * 14 * 14)])
    check(net, (1, 28, 28), ["conv 3x3 1->8 +pool +relu", "linear 1568->10"])


def test_convolution_many_channels_batchnorm_pooled_and_rectified() -> None:
    # C >= 4: row-major columns, one strided copy of whole window rows; BatchNorm folded first.
    layers = [Conv2d(6, 16, 3, padding=1, bias=False), BatchNormalization(16), ReLU(), MaxPool2d(2)]
    net = randomized([*layers, *head(16 * 7 * 7)])
    check(net, (6, 14, 14), ["conv 3x3 6->16 +pool +relu", "linear 784->10"])


def test_winograd_convolution_pooled_and_rectified() -> None:
    # A pooled 3x3 "same" convolution over >= 16 channels: Winograd F(2x2, 3x3), pooling over its tiles.
    layers = [Conv2d(16, 8, 3, padding=1, bias=False), BatchNormalization(8), ReLU(), MaxPool2d(2)]
    net = randomized([*layers, *head(8 * 5 * 5)])
    check(net, (16, 10, 10), ["conv 3x3 16->8 winograd +pool +relu", "linear 200->10"])


def test_winograd_step_unpooled_and_on_odd_maps_matches_im2col() -> None:
    # The compiler only picks Winograd before 2x2 pooling; the step itself also scatters whole maps.
    rng = np.random.default_rng(6)
    for n, hw, relu in ((1, (7, 7), True), (3, (6, 9), False)):
        weight = rng.normal(0, 0.2, (5, 4, 3, 3)).astype(np.float32)
        bias = rng.normal(0, 0.3, 5).astype(np.float32)
        fast, plain = ConvWinograd(weight, bias, hw, False, relu), ConvIm2col(weight, bias, 1, 1, hw, None, relu)
        x = rng.normal(0, 1, (n, *hw, 4)).astype(np.float32)
        outs = []
        for step in (fast, plain):
            buffers = step.allocate(n)
            step.input_view(buffers)[...] = x
            outs.append(np.empty(step.out_shape(n), np.float32))
            run_calls(step.calls(buffers, outs[-1]))
        np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_floor_mode_pooling_of_an_odd_map_skips_the_last_row_and_column() -> None:
    # An odd map keeps im2col even over many channels (Winograd's tiles would straddle the windows).
    net = randomized([Conv2d(16, 8, 3, padding=1), ReLU(), MaxPool2d(2), *head(8 * 3 * 3)])
    check(net, (16, 7, 7), ["conv 3x3 16->8 +pool +relu", "linear 72->10"])


def test_overlapping_pooling_takes_the_strided_path() -> None:
    net = randomized([Conv2d(4, 8, 3, padding=1), ReLU(), MaxPool2d(3, 2), *head(8 * 4 * 4)])
    check(net, (4, 9, 9), ["conv 3x3 4->8 +pool +relu", "linear 128->10"])


def test_convolution_into_convolution_writes_the_padded_interior() -> None:
    # An unpooled convolution's output lands in the next one's padded buffer (a strided destination).
    layers = [Conv2d(1, 8, 3, padding=1), ReLU(), Conv2d(8, 8, 5, stride=2, padding=2), ReLU()]
    net = randomized([*layers, *head(8 * 6 * 6)])
    check(net, (1, 11, 11), ["conv 3x3 1->8 +relu", "conv 5x5 8->8 +relu", "linear 288->10"])


def test_convolution_without_relu_or_padding_into_the_flat_input() -> None:
    net = randomized([Conv2d(3, 4, 3), *head(4 * 6 * 6)])
    check(net, (3, 8, 8), ["conv 3x3 3->4", "linear 144->10"])


def test_linear_layers_flatten_permuted_bias_and_relu() -> None:
    net = randomized([Flatten(), Linear(2 * 5 * 5, 32), ReLU(), Linear(32, 16), ReLU(), Linear(16, 7)])
    check(net, (2, 5, 5), ["linear 50->32 +relu", "linear 32->16 +relu", "linear 16->7"])


@pytest.mark.parametrize("arch", ["small", "default", "deep"])
def test_shipped_architectures_compile_and_match(arch: str) -> None:
    from model import architectures

    net = architectures.build(arch, 11)
    randomized(list(net.layers))  # same layers, randomized in place
    program = compiled(net.eval(), (1, 28, 28))
    x = np.random.default_rng(2).normal(0, 1, (5, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(program(x), net.logits(x), atol=1e-5, rtol=1e-5)
    assert InferenceNetwork.from_sequential(net).program is not None


def test_unfusable_sequences_run_the_plain_ops() -> None:
    # BatchNorm after a padded convolution's pooling cannot be folded: no fused form, plain ops run.
    layers = [Conv2d(1, 4, 3, padding=1), MaxPool2d(2), BatchNormalization(4), Conv2d(4, 4, 3, padding=1), ReLU()]
    net = randomized([*layers, *head(4 * 14 * 14)])
    inference = InferenceNetwork.from_sequential(net)
    assert inference.program is None
    x = np.random.default_rng(3).normal(0, 1, (2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(inference.logits(x), net.logits(x), atol=1e-5)


def test_float64_input_takes_the_plain_ops() -> None:
    net = randomized([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), *head(4 * 14 * 14)])
    inference = InferenceNetwork.from_sequential(net)
    x = np.random.default_rng(4).normal(0, 1, (2, 1, 28, 28))
    assert inference.logits(x).dtype == np.float64


def test_buffers_are_reused_per_batch_size_and_thread_and_never_returned() -> None:
    net = randomized([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), *head(4 * 14 * 14)])
    program = compiled(net, (1, 28, 28))
    x = np.random.default_rng(5).normal(0, 1, (4, 1, 28, 28)).astype(np.float32)
    first = program(x)
    kept = program.plan(4)
    second = program(x[::-1].copy())
    assert program.plan(4) is kept  # same size: same buffers and calls
    assert not np.shares_memory(first, second)  # results are fresh arrays: the first is intact
    np.testing.assert_allclose(first, net.logits(x), atol=1e-5)
    for n in range(10, 10 + KEPT_SIZES):
        program.plan(n)
    assert program.plan(4) is not kept  # only the most recent sizes are kept

    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(program.plan(4)))
    thread.start()
    thread.join()
    assert others[0] is not program.plan(4)  # each thread has its own


def test_convolutions_take_a_few_digits_a_pass_and_the_linear_steps_the_whole_batch() -> None:
    net = randomized([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), *head(4 * 14 * 14)])
    program = compiled(net, (1, 28, 28))
    n = 3 * SPATIAL_CHUNK + 1  # three full passes and a last one of a single digit
    x = np.random.default_rng(6).normal(0, 1, (n, 1, 28, 28)).astype(np.float32)
    passes: list[int] = []
    out = np.empty((n, 10), np.float32)
    program.run_chunk(x, out, passes.append)
    assert passes == [0, 0, 0, 0, 1]
    np.testing.assert_allclose(out, net.logits(x), atol=1e-5)
    plan = program.plan(n)
    assert [(p.start, p.stop) for p in plan.passes] == [(0, 4), (4, 8), (8, 12), (12, 13)]
    assert plan.passes[0].first is plan.passes[1].first  # passes of one size share their buffers...
    assert program.plan(2 * SPATIAL_CHUNK).passes[0].first is plan.passes[0].first  # ...and so do plans
    assert plan.passes[0].first.shape[0] == SPATIAL_CHUNK and plan.passes[-1].first.shape[0] == 1


def test_kept_buffers_stay_within_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import model.compiler

    net = randomized([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), *head(4 * 14 * 14)])
    program = compiled(net, (1, 28, 28))
    one = program.plan(1)
    monkeypatch.setattr(model.compiler, "KEPT_BYTES", 1)  # smaller than any plan: only the newest stays
    two = program.plan(2)
    assert program.plan(2) is two and program.plan(1) is not one


def test_uint8_pixels_are_standardised_straight_into_the_first_buffer() -> None:
    # predict's path for uint8 digits: to_network_input's arithmetic in place, the same float32 values.
    from model import architectures
    from model.normalize import to_network_input

    net = randomized(list(architectures.build("default", 11).layers))
    inference = InferenceNetwork.from_sequential(net.eval())
    pixels = np.random.default_rng(7).integers(0, 256, (CHUNK + 1, 28, 28), dtype=np.uint8)
    for images in (pixels[:1], pixels[:7, None], pixels[:CHUNK], pixels):  # the last: over one chunk
        expected = inference._calibrated(inference.logits(to_network_input(images)))
        np.testing.assert_array_equal(inference.predict(images), expected)
    np.testing.assert_allclose(inference.predict(pixels[:3]), net.predict(pixels[:3]), atol=1e-5)
    assert inference.predict(pixels[:0]).shape == (0, 10)


def test_a_compiled_network_pickles_and_copies_without_its_buffers() -> None:
    import copy
    import pickle

    net = randomized([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), *head(4 * 14 * 14)])
    inference = InferenceNetwork.from_sequential(net)
    pixels = np.random.default_rng(8).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    expected = inference.predict(pixels)
    for other in (pickle.loads(pickle.dumps(inference)), copy.deepcopy(inference)):
        np.testing.assert_array_equal(other.predict(pixels), expected)


def test_a_planned_call_allocates_no_activations() -> None:
    # A call runs on its plan's buffers: what it allocates is the logits it returns and NumPy's own
    # small temporaries (a broadcast bias, the lookup's staging), less than one activation map.
    import tracemalloc

    from model import architectures

    net = randomized(list(architectures.build("default", 11).layers))
    inference = InferenceNetwork.from_sequential(net.eval())
    assert inference.program is not None
    pixels = np.random.default_rng(9).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    for n in (1, 16):
        inference.program.from_pixels(pixels[:n], inference.levels)  # makes the plan
        tracemalloc.start()
        inference.program.from_pixels(pixels[:n], inference.levels)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        first_map = 28 * 28 * 32 * 4  # bytes: one digit's output of the first convolution
        assert peak < first_map / 2, f"batch {n}: {peak} bytes allocated"
