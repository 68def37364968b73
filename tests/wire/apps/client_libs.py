"""HTTP client calls for the wire tests through the third-party clients: requests (urllib3)
and httpx, sync and asyncio, against BASE (argv[1]). Prints one line per call."""
import asyncio
import sys

import httpx
import requests

BASE = sys.argv[1]


def with_requests():
    print("requests", requests.get(BASE + "/users/1").status_code)
    print("requests", requests.get(BASE + "/users/99").status_code)


def requests_session():
    with requests.Session() as s:  # one kept-alive connection, two requests
        print("session", [s.get(BASE + p).status_code for p in ("/users/1", "/users/2")])


def with_httpx():
    with httpx.Client() as c:
        print("httpx", c.get(BASE + "/users/2").status_code, c.get(BASE + "/boom").status_code)


async def httpx_async():
    async with httpx.AsyncClient() as c:
        r = await c.get(BASE + "/health")
        print("httpx-async", r.status_code)


def main():
    with_requests()
    requests_session()
    with_httpx()
    asyncio.run(httpx_async())


if __name__ == "__main__":
    main()
