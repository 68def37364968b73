"""HTTPS calls with urllib, requests, requests.Session, httpx and httpx.AsyncClient.

    https_clients.py BASE_URL CAFILE
"""
import asyncio
import ssl
import sys
import urllib.request

import httpx
import requests

BASE, CA = sys.argv[1], sys.argv[2]


def with_urllib():
    ctx = ssl.create_default_context(cafile=CA)
    with urllib.request.urlopen(BASE + "/users/1", context=ctx) as r:
        print(r.status, r.read())


def with_requests():
    r = requests.get(BASE + "/users/2", verify=CA)
    print(r.status_code, r.text)


def requests_session():
    with requests.Session() as s:
        print([s.get(BASE + p, verify=CA).status_code for p in ("/users/3", "/users/99")])


def with_httpx():
    with httpx.Client(verify=CA) as c:
        print(c.get(BASE + "/boom").status_code)


async def httpx_async():
    async with httpx.AsyncClient(verify=CA) as c:
        r = await c.get(BASE + "/health")
        print(r.status_code, r.text)


with_urllib()
with_requests()
requests_session()
with_httpx()
asyncio.run(httpx_async())
