import asyncio
import sys
from websockets.asyncio.server import serve
async def hello(websocket):
    name = await websocket.recv()
    print(f"<<< {name}", flush=True)
    greeting = f"Hello {name}!"
    await websocket.send(greeting)
    print(f">>> {greeting}", flush=True)
async def main():
    async with serve(hello, "localhost", int(sys.argv[1])) as server:
        await server.serve_forever()
asyncio.run(main())
