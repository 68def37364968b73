"""Work handed off inside a span: threads, pools, asyncio tasks, run_in_executor."""
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

done = threading.Event()


def in_thread():
    return sum(range(10))


def outliving():
    done.wait(5)
    return "late"


def pooled(x):
    return x * 2


def mapped(x):
    return x + 1


def start_thread():
    t = threading.Thread(target=in_thread, name="plain")
    t.start()
    t.join()


def fire_thread():
    # the thread runs on after this span ends
    threading.Thread(target=outliving, name="outliving").start()


def use_pool():
    with ThreadPoolExecutor(2, thread_name_prefix="pool") as ex:
        futs = []
        for i in range(3):  # (a loop: on 3.11 a comprehension is a frame of its own)
            futs.append(ex.submit(pooled, i))
        got = list(ex.map(mapped, range(3)))
    return [f.result() for f in futs] + got


def helper():
    return 2


async def task_body():
    await asyncio.sleep(0)
    return helper()


async def forgotten():
    await asyncio.sleep(0.02)
    helper()


def in_executor(x):
    return x * 3


async def spawn_tasks():
    await asyncio.create_task(task_body())
    asyncio.ensure_future(forgotten())  # fire and forget: runs after spawn_tasks ended
    r = await asyncio.get_running_loop().run_in_executor(None, in_executor, 5)
    if hasattr(asyncio, "TaskGroup"):  # 3.11+
        async with asyncio.TaskGroup() as tg:
            tg.create_task(task_body())
    else:
        await asyncio.gather(asyncio.ensure_future(task_body()))
    return r


async def amain():
    r = await spawn_tasks()
    await asyncio.sleep(0.1)
    return r


def main():
    start_thread()
    fire_thread()
    print(use_pool())
    print(asyncio.run(amain()))
    done.set()


if __name__ == "__main__":
    main()
