"""Keras against ONNX Runtime (float and int8), beside ddddocr, on the same captchas in one run.

    python bench/runtimes.py                   # everything: 10,000 captchas per model, venvs, app start-up
    python bench/runtimes.py --quick           # small samples, a few minutes
    python bench/runtimes.py --venvs DIR       # keep the venvs made from each requirements file in DIR

Every bundled model reads the bench's fresh 4-character 170x80 captchas (the stream of
bench/run.py's comparison) with Keras, with its bundled ONNX export on ONNX Runtime, and
with its bundled int8 export (`load_solver("NAME-int8")`); where the two float runtimes read a captcha differently,
the largest difference of their logits on it says why. Then the default model's speed in
each runtime and ddddocr's, each reading PIL images end to end (batch captchas/s, one
image median and p95); the models' file sizes; the size of a fresh venv made from each
requirements file; and the app's start-up time and resident memory in each install.
The figures go to bench/results/runtimes.json and the section of bench/RESULTS.md;
`python bench/run.py` measures this section too, with the same options.
"""

import argparse
import concurrent.futures
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import provenance
import sections
from common import (
    FRESH_SEED,
    OUT,
    ROOT,
    Bench,
    DdddOcrSolver,
    KerasSolver,
    free_port,
    fresh_images,
    percent,
    scored,
    speed_of,
)

from captcha_model import load_solver
from captcha_model.data import preprocessing
from captcha_model.reading.adjudication import crops_across
from captcha_model.reading.runtime import ONNX_MODEL_FILE, ONNX_REFEREE_FILE
from captcha_model.reading.solver import BUNDLED_EXPORTS, BUNDLED_MODELS, INT8_SUFFIX, lane_chunks

REQUIREMENTS = {"full": "requirements.txt", "light": "requirements-light.txt"}
# The app in each install: (venv, extra arguments); the full install also serves on ONNX Runtime.
APP_RUNS = {"Keras (full install)": ("full", ["--runtime", "keras"]),
            "ONNX Runtime (full install)": ("full", ["--runtime", "onnx"]),
            "ONNX Runtime (light install)": ("light", [])}
RUNTIMES = ("keras", "onnx fp32", "onnx int8")


def add_arguments(parser):
    parser.add_argument("--speed-count", type=int, default=2000, help="captchas per batch-speed measurement")
    parser.add_argument("--ddddocr-count", type=int, default=300, help="captchas ddddocr reads (~40 ms each)")
    parser.add_argument("--venvs", default=os.path.join(OUT, "venvs"),
                        help="where the venvs of each requirements file are made (reused when there)")


def quick(args):
    args.speed_count, args.ddddocr_count = 300, 50


def int8_exports():
    """{model: folder} of each bundled model's int8 export (made by `export --quantize`, see BUNDLED_EXPORTS)."""
    return {name: BUNDLED_EXPORTS[name + INT8_SUFFIX] for name in BUNDLED_MODELS}


def read_all(solver, inputs, chunk=1000):
    return [reading.text for start in range(0, len(inputs), chunk)
            for reading in solver.solve_inputs(inputs[start : start + chunk])]


def logit_difference(first, second, inputs):
    """The largest difference between two solvers' logits on `inputs`: main network and, where there is one,
    its referee on a crop around every column (the glyphs it may be asked about)."""
    difference = np.max(np.abs(np.asarray(first.network(inputs), dtype=np.float64)
                               - np.asarray(second.network(inputs), dtype=np.float64)))
    if first.referee is None:
        return float(difference)
    width = first.referee.referee_config.crop_width
    centers = np.arange(width // 2, inputs.shape[2], max(1, width // 4))
    crops = crops_across(inputs, centers, width)
    referee_difference = np.max(np.abs(np.asarray(first.referee.network(crops), dtype=np.float64)
                                       - np.asarray(second.referee.network(crops), dtype=np.float64)))
    return float(max(difference, referee_difference))


def compare_readings(images, truths, int8_folders):
    """Per model: accuracy in each runtime, and the captchas the float runtimes read differently."""
    results = {}
    for name in BUNDLED_MODELS:
        solvers = {"keras": load_solver(name, "keras"), "onnx fp32": load_solver(name, "onnx"),
                   "onnx int8": load_solver(int8_folders[name], "onnx")}
        inputs = preprocessing.preprocess(images, solvers["keras"].config)
        texts = {runtime: read_all(solver, inputs) for runtime, solver in solvers.items()}
        differences = [
            {"index": index, "truth": truths[index], "keras": texts["keras"][index], "onnx": texts["onnx fp32"][index],
             "logit_difference": logit_difference(solvers["keras"], solvers["onnx fp32"], inputs[index : index + 1])}
            for index in range(len(images)) if texts["keras"][index] != texts["onnx fp32"][index]
        ]
        results[name] = {"accuracy": {runtime: scored(texts[runtime], truths) for runtime in RUNTIMES},
                         "differences": differences,
                         "int8_differs": sum(first != second for first, second in zip(texts["keras"],
                                                                                      texts["onnx int8"])),
                         "largest_logit_difference": logit_difference(solvers["keras"], solvers["onnx fp32"],
                                                                      inputs[:200])}
        print(f"{name}: {len(differences)} readings differ between Keras and ONNX Runtime")
    return results


def measure_speeds(args, images, int8_folders):
    """ddddocr, and then the default model in each runtime, each reading decoded images end to end."""
    # ddddocr first, before the other readers have run in this process: it can only be slowed by them.
    speeds = {"ddddocr": speed_of(DdddOcrSolver(), images[: args.ddddocr_count], args.repeats)}
    readers = {"Keras": load_solver("default", "keras"), "ONNX Runtime fp32": load_solver("default", "onnx"),
               "ONNX Runtime int8": load_solver(int8_folders["default"], "onnx")}
    for name, solver in readers.items():
        speeds[name] = {**speed_of(KerasSolver(solver, name), images[: args.speed_count], args.repeats),
                        "network_per_second": network_speed(solver, images[: args.speed_count], args.repeats)}
    return speeds


def network_speed(solver, images, repeats):
    """Captchas/s of the main network alone, on inputs already preprocessed, in the chunks and lanes the solver
    reads them in (median): what the end-to-end speed would be if nothing else took time."""
    inputs = preprocessing.preprocess(images, solver.config)
    lanes = solver.network.lanes
    network = solver.network.one_thread_copy() if lanes > 1 else solver.network
    chunks = lane_chunks(inputs, lanes, solver.batch_size)
    rates = []
    with concurrent.futures.ThreadPoolExecutor(lanes) as pool:
        list(pool.map(network, chunks))
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(network, chunks))
            rates.append(len(inputs) / (time.perf_counter() - started))
    return statistics.median(rates)


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(path, name)) for path, _, names in os.walk(folder) for name in names
               if not os.path.islink(os.path.join(path, name)))


def model_sizes(int8_folders):
    """Bytes of each model's files: its .keras file (network and referee), and each export's networks."""
    sizes = {}
    for name, path in BUNDLED_MODELS.items():
        folders = {"onnx fp32": os.path.dirname(path), "onnx int8": int8_folders[name]}
        sizes[name] = {"keras file": os.path.getsize(path)}
        for runtime, folder in folders.items():
            sizes[name][f"{runtime} network"] = os.path.getsize(os.path.join(folder, ONNX_MODEL_FILE))
            referee = os.path.join(folder, ONNX_REFEREE_FILE)
            sizes[name][f"{runtime} referee"] = os.path.getsize(referee) if os.path.exists(referee) else 0
    return sizes


def make_venvs(folder):
    """{install: (venv folder, its bytes)}: a fresh venv per requirements file, made once and then reused."""
    venvs = {}
    for install, requirements in REQUIREMENTS.items():
        venv = os.path.join(folder, install)
        if not os.path.exists(os.path.join(venv, "installed")):
            print(f"Making a venv from {requirements} (once)...")
            subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "-r", os.path.join(ROOT, requirements)],
                           check=True)
            open(os.path.join(venv, "installed"), "w").close()
        venvs[install] = (venv, folder_bytes(venv))
    return venvs


def resident_megabytes(pid):
    with open(f"/proc/{pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS")) / 1024


def app_start(venv, arguments):
    """(seconds until `python app.py` says it serves, its resident memory then in MB), in `venv`.

    The app loads its model and reads one captcha before it serves, so both include that.
    """
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(free_port()), "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    server = subprocess.Popen([os.path.join(venv, "bin", "python"), "app.py", *arguments], cwd=ROOT, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "Running on local URL" in line:
                return time.perf_counter() - started, resident_megabytes(server.pid)
        raise RuntimeError(f"app.py in {venv} stopped before serving")
    finally:
        server.terminate()
        server.wait(timeout=30)


def megabytes(size):
    return f"{size / 2**20:.2f} MB"


def with_characters(accuracy):
    characters = accuracy.get("character_accuracy")
    return percent(accuracy) + ("" if characters is None else f"; {characters:.2%} of characters")


def lines(results):
    """The markdown section of RESULTS.md for `results`."""
    speeds, sizes, venvs, apps = results["speeds"], results["model_sizes"], results["venvs"], results["apps"]
    # Against ddddocr's fastest repeat, not its median: the ratio errs against our readers.
    baseline = speeds["ddddocr"].get("batch_fastest_per_second", speeds["ddddocr"]["batch_per_second"])
    lines = ["## Keras against ONNX Runtime", "",
             f"The bundled models read the bench's {results['count']:,} fresh 4-character 170x80 captchas "
             f"(seed {FRESH_SEED}) with Keras, with their bundled ONNX exports "
             "(`python -m captcha_model export NAME captcha_model/bundled/NAME`; what `load_solver(NAME)` reads by "
             "default) and with their bundled int8 exports (`load_solver(\"NAME-int8\")`, made by "
             "`python -m captcha_model export NAME captcha_model/bundled/NAME/int8 "
             "--quantize`: static QDQ quantization of the network and the referee, calibrated on 256 captchas of "
             "another stream, and for the referee on crops of them around every column).", "",
             "| model | Keras | ONNX Runtime fp32 | ONNX Runtime int8 | texts fp32 reads otherwise than Keras "
             "| largest logit difference there | int8 texts unlike Keras' |", "|---|---|---|---|---|---|---|"]
    for name, result in results["readings"].items():
        differences = result["differences"]
        largest = max((item["logit_difference"] for item in differences), default=None)
        lines.append(f"| {name} | " + " | ".join(with_characters(result["accuracy"][runtime]) for runtime in RUNTIMES)
                     + f" | {len(differences)} | {'-' if largest is None else f'{largest:.1e}'} "
                     f"| {result['int8_differs']} |")
    lines += ["", "Where the float runtimes read a captcha differently, the table gives the largest difference of "
              "their logits on it (main network, and referee on crops across the captcha); over the first 200 "
              "captchas the largest is " + ", ".join(f"{name} {result['largest_logit_difference']:.1e}"
                                                    for name, result in results["readings"].items()) + ".", "",
              f"Speed of the default model and of ddddocr, reading decoded images end to end (preprocessing, "
              f"network, decoding, referee; ddddocr gets PNG bytes): batch of {results['speed_count']:,} "
              f"(ddddocr {results['ddddocr_count']}), one image at a time over 200, median of {results['repeats']} "
              "repeats after one untimed read of the batch. ddddocr's speed swings widely from one repeat to the "
              f"next, so it is measured first and its fastest repeat ({baseline:,.0f}/s) is the yardstick. "
              "ONNX Runtime reads a batch in chunks side by side, one per core, each on one thread; one image on "
              "all cores. The load average was "
              + (" and ".join(f"{load:.1f}" for load in results["load_average"]) + " before and after"
                 if "load_average" in results else "not recorded") + ".", "",
              "The main network alone, on the same captchas already preprocessed, shows what the rest "
              "(preprocessing, decoding, the referee, the readings) costs.", "",
              "| reader | batch captchas/s | x ddddocr's fastest | main network alone, captchas/s "
              "| one image, median ms | one image, p95 ms |",
              "|---|---|---|---|---|---|"]
    for name in ("Keras", "ONNX Runtime fp32", "ONNX Runtime int8", "ddddocr"):
        speed = speeds[name]
        network = f"{speed['network_per_second']:,.0f}" if "network_per_second" in speed else "-"
        lines.append(f"| {name} | {speed['batch_per_second']:,.0f} | {speed['batch_per_second'] / baseline:.0f}x "
                     f"| {network} | {speed['single_ms']:.2f} | {speed['single_p95_ms']:.2f} |")
    lines += ["", "| model | .keras file (network and referee) | ONNX fp32 network + referee | "
              "ONNX int8 network + referee |", "|---|---|---|---|"]
    for name, size in sizes.items():
        lines.append(f"| {name} | {megabytes(size['keras file'])} | {megabytes(size['onnx fp32 network'])} + "
                     f"{megabytes(size['onnx fp32 referee'])} | {megabytes(size['onnx int8 network'])} + "
                     f"{megabytes(size['onnx int8 referee'])} |")
    full, light = venvs["full"], venvs["light"]
    lines += ["", f"A fresh venv made from each requirements file: `requirements.txt` {full / 2**20:,.0f} MB, "
              f"`requirements-light.txt` {light / 2**20:,.0f} MB ({light / full:.1%} of the full one; sizes of the "
              "venvs' files).", "",
              "The app (`python app.py`) in each install: seconds until it says it serves (it loads the default "
              "model and reads one captcha first) and its resident memory then.", "",
              "| app | start-up s | resident MB |", "|---|---|---|"]
    lines += [f"| {name} | {seconds:.1f} | {memory:,.0f} |" for name, (seconds, memory) in apps.items()]
    return lines + [""]


def measure(bench):
    """Readings, speeds and sizes of every runtime, the venvs' sizes and the app's start-up in each install."""
    args = bench.args
    int8_folders = int8_exports()
    print(f"Rendering {args.count:,} captchas...")
    images, truths = fresh_images(args.count)
    results = {"count": args.count, "speed_count": args.speed_count, "ddddocr_count": args.ddddocr_count,
               "repeats": args.repeats, "readings": compare_readings(images, truths, int8_folders)}
    # The machine may be shared: the load average (1 minute) before and after the speeds says how much.
    load_before = os.getloadavg()[0]
    results["speeds"] = measure_speeds(args, images, int8_folders)
    results["load_average"] = [load_before, os.getloadavg()[0]]
    results["model_sizes"] = model_sizes(int8_folders)
    venvs = make_venvs(args.venvs)
    results["venvs"] = {install: size for install, (_, size) in venvs.items()}
    results["apps"] = {name: app_start(venvs[install][0], arguments)
                       for name, (install, arguments) in APP_RUNS.items()}
    files = [path for name in BUNDLED_MODELS for runtime in ("keras", "onnx")
             for path in provenance.model_files(name, runtime)]
    files += [path for folder in int8_folders.values() for path in provenance.model_files(folder, "onnx")]
    return results, files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small samples: ends in a few minutes")
    parser.add_argument("--count", type=int, default=10000, help="fresh captchas each model reads in each runtime")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each speed measurement")
    add_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.count, args.repeats = 500, 1
        quick(args)
    os.makedirs(OUT, exist_ok=True)
    bench = Bench(args, provenance.command("runtimes.py", sys.argv[1:]))
    sections.run(bench, "runtimes", measure, lines)
    print(f"Wrote {sections.assemble()}")


if __name__ == "__main__":
    main()
