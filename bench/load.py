"""Serving under load: the app's /solve through gradio_client, a flood, and the bulk JSON endpoint.

    python bench/load.py            # about two minutes on 2 cores
    python bench/load.py --quick    # a few clients and requests, to check the section

Starts `python app.py` on a free port in a process of its own, so that the clients here do
not share its interpreter, then measures, with gradio_client Clients that neither verify TLS
(the server is plain http on 127.0.0.1; by default each of the client's HTTP calls loads the
CA bundle, which costs the client more CPU than the server spends on the request) nor
download the picture of the network's input that /solve returns:

- one client sending /solve requests one after another: median and p95 latency;
- 50 clients sending 4 requests each at once: rejections, readings/s, median and p95 latency;
- a flood of requests submitted at once, far beyond the queue: how many are refused, and how;
- POST /bulk/solve with batches of 100 PNG captchas, one request at a time and two at a time:
  captchas/s over the run.

Every reading is checked against the captcha's true text. Figures go to bench/results/load.json
and to the "Serving under load" section of bench/RESULTS.md; `python bench/run.py` measures
this section too, with the same options.
"""

import concurrent.futures
import os
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import numpy as np
import provenance
from common import ROOT, free_port, run_alone, verdict
from gradio_client import Client, handle_file

from captcha_model.data import rendering
from captcha_model.networks.model import default_config

TARGETS = {"p95_seconds": 2.0, "readings_per_second": 25.0, "single_median_seconds": 0.1, "bulk_per_second": 1000.0}


def start_app(port):
    """`python app.py` on `port`, once its page answers."""
    environment = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(1)
    server.kill()
    raise RuntimeError("The app did not start within 5 minutes.")


def write_captchas(folder, count, seed):
    """`count` PNG captchas of the default model's kind: [(path, true text)]."""
    captchas = []
    for index in range(count):
        text, image = rendering.sample_captcha(default_config(), seed, index)
        path = os.path.join(folder, f"{index:04d}.png")
        image.save(path)
        captchas.append((path, text))
    return captchas


def percentile(values, share):
    return float(np.percentile(values, share)) if values else float("nan")


def one_client(url, captchas, requests):
    client = Client(url, verbose=False, download_files=False, ssl_verify=False)
    for path, _ in captchas[:5]:
        client.predict(handle_file(path), api_name="/solve")
    latencies, right = [], 0
    for number in range(requests):
        path, text = captchas[number % len(captchas)]
        started = time.perf_counter()
        reading = client.predict(handle_file(path), api_name="/solve")[0]
        latencies.append(time.perf_counter() - started)
        right += reading == text
    return {"requests": requests, "right": right, "median_seconds": percentile(latencies, 50),
            "p95_seconds": percentile(latencies, 95)}


def many_clients(url, captchas, clients, requests_each):
    """`clients` threads, each with a Client of its own, sending `requests_each` /solve requests at once."""
    sessions = [Client(url, verbose=False, download_files=False, ssl_verify=False) for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    results = []

    def visit(number):
        client = sessions[number]
        start.wait()
        outcomes = []
        for request in range(requests_each):
            path, text = captchas[(number * requests_each + request) % len(captchas)]
            started = time.perf_counter()
            try:
                reading = client.predict(handle_file(path), api_name="/solve")[0]
                outcomes.append((time.perf_counter() - started, reading == text, None))
            except Exception as error:  # noqa: BLE001 - every refusal is counted, whatever its kind
                outcomes.append((time.perf_counter() - started, False, str(error)))
        return outcomes

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(visit, number) for number in range(clients)]
        start.wait()
        started = time.perf_counter()
        for future in futures:
            results.extend(future.result())
        wall = time.perf_counter() - started
    served = [latency for latency, _, error in results if error is None]
    errors = [error for _, _, error in results if error is not None]
    return {"clients": clients, "requests": len(results), "rejected": len(errors),
            "first_refusal": errors[0] if errors else None, "right": sum(right for _, right, _ in results),
            "wall_seconds": wall, "readings_per_second": len(served) / wall,
            "median_seconds": percentile(served, 50), "p95_seconds": percentile(served, 95)}


def flood(url, captchas, jobs):
    """`jobs` /solve requests submitted at once from one client: how many are refused, and the first refusal."""
    client = Client(url, verbose=False, download_files=False, ssl_verify=False, max_workers=jobs)
    submitted = [client.submit(handle_file(captchas[number % len(captchas)][0]), api_name="/solve")
                 for number in range(jobs)]
    errors = []
    for job in submitted:
        try:
            job.result(timeout=600)
        except Exception as error:  # noqa: BLE001 - every refusal is counted, whatever its kind
            errors.append(str(error))
    return {"requests": jobs, "rejected": len(errors), "first_refusal": errors[0] if errors else None}


def bulk(url, captchas, batch, repeats, in_flight):
    """POST /bulk/solve with `batch` files, `repeats` times from each of `in_flight` threads at once.

    Returns captchas/s over the whole run (after one warm-up request) and how many readings were right.
    """
    files = [(path, text, open(path, "rb").read()) for path, text in captchas[:batch]]
    form = [("files", (os.path.basename(path), content, "image/png")) for path, _, content in files]

    def send(session):
        response = session.post(f"{url}bulk/solve", files=form)
        response.raise_for_status()
        return sum(reading["text"] == text for reading, (_, text, _) in zip(response.json()["readings"], files))

    def sender(_):
        with httpx.Client(timeout=120) as session:
            return sum(send(session) for _ in range(repeats))

    with httpx.Client(timeout=120) as session:
        send(session)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        right = sum(pool.map(sender, range(in_flight)))
    wall = time.perf_counter() - started
    read = batch * repeats * in_flight
    return {"batch": batch, "requests": repeats * in_flight, "in_flight": in_flight,
            "captchas_per_second": read / wall, "right": right, "read": read}


def lines(results):
    single, load, flood_result, bulk_results = results["single"], results["load"], results["flood"], results["bulk"]
    return [
        "## Serving under load",
        "",
        "The app (`python app.py`, default model) in a process of its own, the clients in another, on the same machine "
        "(gradio_client with `ssl_verify=False` and "
        "`download_files=False`: see the script); every reading checked against the captcha's text.",
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        f"| one client, /solve one after another, median (p95) | {single['median_seconds'] * 1000:.0f} ms "
        f"({single['p95_seconds'] * 1000:.0f} ms), {single['right']}/{single['requests']} right | <= 100 ms | "
        f"{verdict(single['median_seconds'] <= TARGETS['single_median_seconds'])} |",
        f"| {load['clients']} clients x {load['requests'] // load['clients']} /solve at once: refused | "
        f"{load['rejected']} of {load['requests']} | 0 | {verdict(load['rejected'] == 0)} |",
        f"| same: readings/s | {load['readings_per_second']:.1f} ({load['right']}/{load['requests']} right) | >= 25 | "
        f"{verdict(load['readings_per_second'] >= TARGETS['readings_per_second'])} |",
        f"| same: latency median (p95) | {load['median_seconds']:.2f} s ({load['p95_seconds']:.2f} s) | p95 <= 2 s | "
        f"{verdict(load['p95_seconds'] <= TARGETS['p95_seconds'])} |",
        f"| flood: {flood_result['requests']} /solve submitted at once | "
        f"{flood_result['rejected']} of {flood_result['requests']} refused | refused with a clear message | |",
        *(f"| POST /bulk/solve, {result['batch']} PNGs a request, {result['requests']} requests, "
          f"{result['in_flight']} at a time | {result['captchas_per_second']:,.0f} captchas/s "
          f"({result['right']}/{result['read']} right) | >= 1,000/s | "
          f"{verdict(result['captchas_per_second'] >= TARGETS['bulk_per_second'])} |" for result in bulk_results),
        "",
        f"The flood's refusal: \"{flood_result['first_refusal']}\"" if flood_result["first_refusal"]
        else "The flood was not refused.",
        "",
        f"Load average (1 minute) {results['load_before']:.1f} before the run and {results['load_after']:.1f} "
        "after it: other work shared the cores.",
    ]


def add_arguments(parser):
    parser.add_argument("--clients", type=int, default=50, help="clients sending /solve requests at once")
    parser.add_argument("--requests-each", type=int, default=4, help="/solve requests each of those clients sends")
    parser.add_argument("--flood", type=int, default=300, help="requests submitted at once, beyond the queue")
    parser.add_argument("--single-requests", type=int, default=60, help="/solve requests of the single client")
    parser.add_argument("--bulk-repeats", type=int, default=10, help="bulk requests per sender")


def quick(args):
    args.clients, args.requests_each, args.flood, args.single_requests, args.bulk_repeats = 5, 2, 30, 10, 2


def measure(bench):
    """Every figure of the section, from an app started here and stopped after; it reads the default model."""
    args = bench.args
    load_before = os.getloadavg()[0]
    port = free_port()
    server = start_app(port)
    url = f"http://127.0.0.1:{port}/"
    try:
        with tempfile.TemporaryDirectory() as folder:
            captchas = write_captchas(folder, 100, seed=7_000_000)
            results = {
                "single": one_client(url, captchas, args.single_requests),
                "load": many_clients(url, captchas, args.clients, args.requests_each),
                "flood": flood(url, captchas, args.flood),
                "bulk": [bulk(url, captchas, 100, args.bulk_repeats, in_flight) for in_flight in (1, 2)],
            }
    finally:
        server.terminate()
        server.wait(timeout=60)
    results["load_before"], results["load_after"] = load_before, os.getloadavg()[0]
    return results, provenance.model_files(None)


if __name__ == "__main__":
    run_alone(sys.modules[__name__], "load", "a few clients and requests")
