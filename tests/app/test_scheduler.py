"""The scheduler (``app.scheduler``): batching, fairness, admission, dropping work nobody waits for, and
the decoder process (costly jobs, crashes, jobs whose request is gone). Ordered by events, not sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.decoder_process import DecoderCrashedError
from app.errors import ServiceBusyError
from app.scheduler import COSTLY_BYTES, Scheduler
from model.recipe import NoDigitError, UnsupportedImageError
from model.recipe.digit_reader import read_digit
from model.steps import Classify, Decode, Program
from tests.helpers import FakeNetwork, crash_the_process, png, sleep_then_len


@pytest.fixture
def scheduler(fake_net: FakeNetwork) -> Iterator[Scheduler]:
    s = Scheduler(fake_net, max_batch=16, max_pending=64, batch_window=60)  # batches end by size, not time
    s.start()  # one warm-up call
    fake_net.batches.clear()
    yield s
    fake_net.gate.set()
    s.close()


def reading(data: bytes) -> Program[Any]:
    return read_digit(data, None)


def decoded(fn: Any, data: bytes, *args: Any) -> Program[Any]:
    """A program of one job, ``fn(data, *args)``: its result (or its exception, returned)."""
    try:
        return (yield Decode(fn, data, args))
    except Exception as exc:
        return exc


async def wait_entered(net: FakeNetwork) -> None:
    assert await asyncio.to_thread(net.entered.wait, 10)


def test_requests_that_wait_together_share_network_calls(
    scheduler: Scheduler, fake_net: FakeNetwork, digits: tuple[list[bytes], np.ndarray]
) -> None:
    images = digits[0] * 4

    async def main() -> list[Any]:
        fake_net.gate.clear()
        first = scheduler.submit([reading(images[0])])
        await wait_entered(fake_net)  # the first batch is in the network: the rest queue behind it
        rest = [f for data in images[1:] for f in scheduler.submit([reading(data)])]
        fake_net.gate.set()
        return list(await asyncio.gather(*first, *rest))

    readings = asyncio.run(main())
    assert all(r.digit == 3 for r in readings)
    assert fake_net.batches[0] == 1 and sum(fake_net.batches) == len(images)
    assert max(fake_net.batches) == 16 and len(fake_net.batches) == 1 + 3  # 39 more: 16 + 16 + 7


def test_a_new_request_goes_before_the_rest_of_a_large_batch(
    scheduler: Scheduler, fake_net: FakeNetwork, digits: tuple[list[bytes], np.ndarray]
) -> None:
    done: list[str] = []

    async def main() -> None:
        fake_net.gate.clear()
        batch = scheduler.submit([reading(d) for d in digits[0] * 6])  # 60 images, one request
        await wait_entered(fake_net)
        (single,) = scheduler.submit([reading(digits[0][0])])
        single.add_done_callback(lambda _: done.append("single"))
        batch[-1].add_done_callback(lambda _: done.append("batch"))
        fake_net.gate.set()
        await asyncio.gather(single, *batch)

    asyncio.run(main())
    assert done == ["single", "batch"]


def test_each_image_has_its_own_error(scheduler: Scheduler, digits: tuple[list[bytes], np.ndarray]) -> None:
    blank = png(np.zeros((28, 28), np.uint8))

    async def main() -> list[Any]:
        futures = scheduler.submit([reading(d) for d in (digits[0][0], b"not an image", blank)])
        return list(await asyncio.gather(*futures, return_exceptions=True))

    good, unsupported, empty = asyncio.run(main())
    assert good.digit == 3 and good.image.shape == (28, 28)
    assert isinstance(unsupported, UnsupportedImageError) and isinstance(empty, NoDigitError)


def test_over_max_pending_a_request_is_refused_at_once(fake_net: FakeNetwork, seven: bytes) -> None:
    scheduler = Scheduler(fake_net, max_batch=16, max_pending=3)
    scheduler.start()

    async def main() -> None:
        fake_net.gate.clear()
        first = scheduler.submit([reading(seven)])
        await wait_entered(fake_net)
        waiting = scheduler.submit([reading(seven), reading(seven)])
        with pytest.raises(ServiceBusyError) as refused:
            scheduler.submit([reading(seven)])
        assert refused.value.headers == {"Retry-After": "1"}
        fake_net.gate.set()
        await asyncio.gather(*first, *waiting)
        assert scheduler.pending == 0
        await asyncio.gather(*scheduler.submit([reading(seven)]))  # room again

    try:
        asyncio.run(main())
    finally:
        fake_net.gate.set()
        scheduler.close()


def test_work_for_a_cancelled_request_is_dropped_before_its_next_step(
    scheduler: Scheduler, fake_net: FakeNetwork, seven: bytes
) -> None:
    async def main() -> None:
        fake_net.gate.clear()
        first = scheduler.submit([reading(seven)])
        await wait_entered(fake_net)
        gone = scheduler.submit([reading(seven) for _ in range(5)])
        for future in gone:
            future.cancel()
        fake_net.gate.set()
        await asyncio.gather(*first)
        while scheduler.pending:  # the dropped programs are counted out by the predictor thread
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert scheduler.dropped == 5 and sum(fake_net.batches) == 1


def test_a_costly_upload_is_decoded_in_the_decoder_process(scheduler: Scheduler, seven: bytes) -> None:
    padded = seven + b"\0" * (COSTLY_BYTES + 1)  # over COSTLY_BYTES: never read in this process

    async def main() -> Any:
        (future,) = scheduler.submit([decoded(len, padded)])
        return await future

    assert asyncio.run(main()) == len(padded) and scheduler.decoder.pid is not None


def test_a_decoder_crash_is_that_uploads_error_and_the_next_upload_gets_a_fresh_decoder(
    scheduler: Scheduler, seven: bytes
) -> None:
    big = b"\0" * (COSTLY_BYTES + 1)

    async def main() -> tuple[Any, Any]:
        (crashed,) = scheduler.submit([decoded(crash_the_process, big)])
        first = await crashed
        (after,) = scheduler.submit([decoded(len, big)])
        return first, await after

    crashed, after = asyncio.run(main())
    assert isinstance(crashed, DecoderCrashedError) and "crashed the decoder" in str(crashed)
    assert after == len(big)


def test_a_costly_job_whose_request_is_gone_is_stopped_and_the_next_one_is_served(
    scheduler: Scheduler, tmp_path: Path
) -> None:
    big = b"\0" * (COSTLY_BYTES + 1)
    started = tmp_path / "started"

    async def main() -> Any:
        (slow,) = scheduler.submit([decoded(sleep_then_len, big, 60.0, str(started))])
        while not started.exists():  # the job runs in the child
            await asyncio.sleep(0.01)
        slow.cancel()  # the client went away, or its deadline passed
        (next_job,) = scheduler.submit([decoded(len, big)])
        return await asyncio.wait_for(next_job, 10)

    assert asyncio.run(main()) == len(big)
    assert scheduler.decoder.restarts >= 1


def test_a_costly_job_past_its_budget_is_stopped(fake_net: FakeNetwork) -> None:
    scheduler = Scheduler(fake_net, max_batch=16, decode_budget=0.5)
    scheduler.start()
    big = b"\0" * (COSTLY_BYTES + 1)

    async def main() -> Any:
        (slow,) = scheduler.submit([decoded(sleep_then_len, big, 60.0)])
        return await asyncio.wait_for(slow, 10)

    try:
        error = asyncio.run(main())
    finally:
        scheduler.close()
    assert "took over 0.5 s to decode" in str(error)


def test_a_program_asking_for_more_than_max_batch_digits_gets_them_in_one_call(
    scheduler: Scheduler, fake_net: FakeNetwork
) -> None:
    def many() -> Program[np.ndarray]:
        scores: np.ndarray = yield Classify(np.zeros((40, 28, 28), np.uint8))
        return scores

    async def main() -> Any:
        (future,) = scheduler.submit([many()])
        return await future

    assert asyncio.run(main()).shape == (40, 10) and fake_net.batches == [40]


def test_the_fair_queue_serves_the_least_served_account_first_then_the_oldest() -> None:
    from app.fairness import Account, FairQueue

    queue, old, new = FairQueue(), Account(0), Account(1)
    for item in ("old-1", "old-2"):
        queue.push(old, item)
    queue.push(new, "new-1")
    assert queue.pop() == "old-1"  # both at zero: the older request
    old.served += 0.01  # its first item's work
    assert queue.pop() == "new-1"  # now the new request has been served least
    assert queue.pop() == "old-2" and queue.pop() is None and len(queue) == 0
