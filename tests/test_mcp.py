"""The app as tools for AI agents: `python app.py --mcp` serves its endpoints over MCP.

Gradio describes each tool from the function's docstring; an MCP client (the `mcp`
package, which `gradio[mcp]` installs) lists them and calls solve and evaluate.
"""

import asyncio
import base64
import io

import httpx
import pytest
from app_server import serving
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

import app
from captcha_model.data import rendering

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


@pytest.fixture(scope="module")
def url(solver):
    with serving(app.build_demo(app.make_actions(solver, None, "default")), mcp_server=True) as address:
        yield address


def test_the_schema_lists_solve_and_evaluate_with_described_parameters(url):
    tools = {tool["name"]: tool for tool in httpx.get(f"{url}gradio_api/mcp/schema", timeout=30).json()}
    assert {"solve", "evaluate"} <= set(tools)
    assert tools["solve"]["description"].startswith("Read the text of a captcha image")
    assert tools["evaluate"]["description"].startswith("Measure the model's accuracy")
    for name in ("solve", "evaluate"):
        properties = tools[name]["inputSchema"]["properties"]
        assert all(parameter.get("description") for parameter in properties.values()), name
    assert tools["solve"]["inputSchema"]["required"] == ["upload"]
    assert set(tools["evaluate"]["inputSchema"]["properties"]) == {"count", "seed", "length", "size", "model"}
    assert "1 to 2000" in tools["evaluate"]["inputSchema"]["properties"]["count"]["description"]


def data_uri(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def call_tools(url, calls):
    async with streamable_http_client(f"{url}gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            names = [tool.name for tool in (await session.list_tools()).tools]
            return names, [await session.call_tool(name, arguments) for name, arguments in calls]


def test_an_agent_solves_a_captcha_and_evaluates_the_model_through_mcp(url, solver):
    truth, image = rendering.sample_captcha(solver.config, 5)
    assert solver.solve([image])[0].text == truth
    uploaded = httpx.post(f"{url}gradio_api/upload", files={"files": ("captcha.png", io.BytesIO(
        base64.b64decode(data_uri(image).split(",")[1])), "image/png")}, timeout=30).json()[0]
    names, (inline, by_url, evaluation, remote) = asyncio.run(call_tools(url, [
        ("solve", {"upload": data_uri(image)}),
        # As an agent passes back a file it uploaded: the address of a file this server holds.
        ("solve", {"upload": f"{url}gradio_api/file={uploaded}"}),
        ("evaluate", {"count": 5, "seed": 3}),
        ("solve", {"upload": "https://huggingface.co/datasets/someone/captchas/resolve/main/captcha.png"}),
    ]))
    assert {"solve", "evaluate"} <= set(names)
    for result in (inline, by_url):
        assert not result.isError
        assert result.content[0].text.startswith(f"['{truth}'")
        assert "Answered by **default**" in result.content[0].text
    assert not evaluation.isError and "of 5 captchas read right" in evaluation.content[0].text
    assert remote.isError and "not addresses" in remote.content[0].text
