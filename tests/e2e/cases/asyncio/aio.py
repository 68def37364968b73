"""asyncio: coroutines awaiting each other and asyncio.sleep, a gather of 3, an async generator."""

import asyncio


async def fetch(i):
    await asyncio.sleep(0.01 * (i + 1))
    return i * 2


async def step(i):
    value = await fetch(i)
    return value + 1


async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0.001)
        yield i


async def main_coro():
    results = await asyncio.gather(step(0), step(1), step(2))
    ticks = []
    async for tick in ticker(3):
        ticks.append(tick)
    return results, ticks


def run():
    return asyncio.run(main_coro())


if __name__ == "__main__":
    print(run())
