"""The web benchmark's FastAPI app on uvicorn (scripts/bench --only web)."""
import asyncio

from fastapi import FastAPI

app = FastAPI()


def describe(item_id):
    return {"id": item_id, "name": f"item {item_id}", "tags": ["a", "b"]}


@app.get("/items/{item_id}")
async def item(item_id: int):
    await asyncio.sleep(0)
    return describe(item_id)
