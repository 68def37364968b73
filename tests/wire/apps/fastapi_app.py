"""A FastAPI app for the wire tests (uvicorn): an async route, a sync route, a 404, a 500."""
import asyncio

from fastapi import FastAPI, HTTPException

app = FastAPI()


async def lookup(item_id):
    await asyncio.sleep(0.002)
    return {"id": item_id}


@app.get("/items/{item_id}")
async def get_item(item_id: int):
    if item_id > 100:
        raise HTTPException(status_code=404, detail="no such item")
    return await lookup(item_id)


@app.get("/sync")
def sync_route():
    return {"sync": True}


@app.get("/boom")
async def boom():
    raise RuntimeError("async boom")
