import asyncio, sys
from websockets.asyncio.client import connect
async def hello():
    async with connect(sys.argv[1]) as websocket:
        name = "Python"
        await websocket.send(name)
        print(f">>> {name}")
        greeting = await websocket.recv()
        print(f"<<< {greeting}")
asyncio.run(hello())
