"""TAK interoperability: pytak, a real TAK client library, on the node's CoT ports.

pytak connects, sends its ``takPing`` and then sensor reports as CoT; the node answers the ping,
stores the reports, fuses them and streams the track and its impact ellipse back as CoT, which
pytak reads with its own framing. Over TLS the client presents a certificate of the nation's CA;
a certificate of any other CA is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
import warnings
from collections.abc import AsyncIterator
from configparser import ConfigParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from hotline.cot.certs import issue_client_cert
from hotline.pki import init_pki
from tests.integration.warning_support import OBJECT, rows, scenario
from tests.support import Cluster, eventually, running_cluster

with warnings.catch_warnings():  # pytak warns that its optional aiohttp extra is missing
    warnings.simplefilter("ignore")
    import pytak  # type: ignore[import-untyped]

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def usa_node(root: Path, environ: dict[str, str] | None = None) -> AsyncIterator[Cluster]:
    """The USA node alone (the track authority: it fuses what its own sensors report)."""
    async with running_cluster(root, ("USA",), federate=False, environ=environ) as cluster:
        yield cluster


@contextlib.asynccontextmanager
async def tak_client(config: dict[str, str]) -> AsyncIterator[Any]:
    """A pytak CLITool running against the node; yields it (``tx_queue``, ``rx_queue``)."""
    cfg = ConfigParser()
    cfg["hotline"] = config
    tool = pytak.CLITool(cfg["hotline"])
    await tool.setup()
    task = asyncio.create_task(tool.run())
    try:
        yield tool
    finally:
        workers = [getattr(f, "_pytak_worker", None) for f in tool.running_tasks]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        for worker in workers:  # pytak leaves its socket open when cancelled: close it
            writer = getattr(worker, "writer", None)
            if isinstance(writer, asyncio.StreamWriter):
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await writer.wait_closed()


def report_cot(r: dict[str, Any]) -> bytes:
    """A report as pytak builds a CoT event, stamped with the report's own time."""
    event = pytak.gen_cot_xml(
        lat=r["lat"], lon=r["lon"], ce=r["ce"], hae=r["hae"], le=r["le"], uid=r["uid"],
        stale=60, cot_type="a-u-A-W-M",
    )  # fmt: skip
    assert event is not None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(r["time"])) + ".000Z"
    event.set("time", stamp)
    event.set("start", stamp)
    return bytes(ET.tostring(event))


async def received(tool: Any, pred: Any, timeout_s: float = 20.0) -> list[ET.Element]:
    """CoT events pytak received, until one satisfies ``pred``."""
    got: list[ET.Element] = []
    async with asyncio.timeout(timeout_s):
        while True:
            data = await tool.rx_queue.get()
            ev = ET.fromstring(data)
            got.append(ev)
            if pred(ev):
                return got


async def test_pytak_reports_in_and_tracks_out_over_tcp(tmp_path: Path) -> None:
    async with usa_node(tmp_path) as cluster:
        port = cluster.base_port + 11  # base + 10 + n, USA is n = 1
        reports = [r for r in scenario(time.time()) if r["nation"] == "USA"]
        async with tak_client({"COT_URL": f"tcp://127.0.0.1:{port}"}) as tool:
            # pytak sent its takPing on connecting: the node answered it.
            await received(tool, lambda ev: ev.get("uid") == "takPong")
            bad = dict(reports[0], uid=f"fps5-sado.{OBJECT}")  # a JPN sensor: not USA's
            await tool.tx_queue.put(report_cot(bad))
            errors = await received(tool, lambda ev: ev.get("type") == "t-x-e")
            err = errors[-1].find("detail/hotline_error")
            assert err is not None and err.get("code") == "unknown_sensor"
            for r in reports:
                await tool.tx_queue.put(report_cot(r))
            track = (await received(tool, lambda ev: ev.get("type") == "a-u-A-W-M"))[-1]
            detail = track.find("detail/hotline")
            assert detail is not None and detail.get("picture") == "coalition"
            assert detail.get("sources") == "USA/tpy2-kyogamisaki"
            impact = await received(tool, lambda ev: ev.get("type") == "u-d-c-e", 30.0)
            assert impact[-1].find("detail/shape/ellipse") is not None
            node_dir = cluster["USA"].node_dir

            async def all_stored() -> bool:
                n = rows(node_dir, "SELECT COUNT(*) FROM reports WHERE nation = 'USA'")[0][0]
                return bool(n == len(reports))

            await eventually(all_stored, what="every report pytak sent is stored")

        assert rows(node_dir, "SELECT COUNT(*) FROM reports WHERE sensor = 'fps5-sado'") == [(0,)]
        ops = await cluster["USA"].login("usa.ops")
        tracks = (await ops.get("/api/v1/tracks")).json()
        assert len(tracks) == 1 and f"hotline.{tracks[0]['id']}" == track.get("uid")


# pytak's own TLS context sets the deprecated ssl.OP_NO_TLSv1* options.
@pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning")
async def test_pytak_over_tls_with_a_certificate_of_the_nations_ca(tmp_path: Path) -> None:
    tls_port = free_port()
    async with usa_node(tmp_path / "n", {"HOTLINE_COT_TLS_PORT": str(tls_port)}) as cluster:
        pki = cluster["USA"].node_dir / "pki"
        files = issue_client_cert(pki, "kyogamisaki-gw", tmp_path / "tak")
        config = {
            "COT_URL": f"tls://127.0.0.1:{tls_port}",
            "PYTAK_TLS_CLIENT_CERT": str(files["cert"]),
            "PYTAK_TLS_CLIENT_KEY": str(files["key"]),
            "PYTAK_TLS_CLIENT_CAFILE": str(files["ca"]),
            "PYTAK_TLS_SERVER_EXPECTED_HOSTNAME": "127.0.0.1",
        }
        reports = [r for r in scenario(time.time()) if r["nation"] == "USA"][:20]
        async with tak_client(config) as tool:
            await received(tool, lambda ev: ev.get("uid") == "takPong")
            for r in reports:
                await tool.tx_queue.put(report_cot(r))

            async def stored() -> bool:
                n = rows(cluster["USA"].node_dir, "SELECT COUNT(*) FROM reports")[0][0]
                return bool(n == len(reports))

            await eventually(stored, what="the TLS client's reports are stored")

        # A certificate from another CA (here a stranger's "JPN" CA) never gets through.
        stranger = init_pki(tmp_path / "stranger", "JPN")
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(stranger["node_cert"]), str(stranger["node_key"]))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", tls_port, ssl=ctx, server_hostname="127.0.0.1"
            )
            writer.write(report_cot(reports[0]))
            await writer.drain()
            await reader.readexactly(1)  # TLS 1.3 reports the refusal on the first read
        # Nor does a client without any certificate.
        bare = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", tls_port, ssl=bare, server_hostname="127.0.0.1"
            )
            await reader.readexactly(1)
