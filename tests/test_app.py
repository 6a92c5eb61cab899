"""The web demo as a user meets it: the exported Space's app.py launched on 127.0.0.1 in a fresh process
where this project is not installed, driven with gradio_client (a good file and bad ones) and in Debian's
headless Chromium (upload a BVH, press Explain, read the label and the explanation in the page)."""

import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from motion_files import layout_bvh, sample_video_cut, upper_body_layout
from tiny_models import LABELS, save_tiny_run
from transformers import pipeline

from eai_llm.hub import export
from eai_llm.layouts import get_layout

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")  # Debian's, as make test installs
LAUNCH = r"""
import importlib.util, runpy, sys
sys.path.append(sys.argv[1])  # site-packages without processing .pth files: no editable install of eai_llm
assert importlib.util.find_spec("eai_llm") is None, "eai_llm must not be importable here"
app, port = sys.argv[2], sys.argv[3]
sys.argv = [app, "--port", port]
runpy.run_path(app, run_name="__main__")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``(url, export folder, a kdae24 BVH clip, what the pipeline says of it)`` with the export's app.py serving."""
    folder = tmp_path_factory.mktemp("app")
    model_dir, clip = save_tiny_run(folder)
    exported = export(model_dir, folder / "export")
    expected = pipeline("skeleton-emotion", model=str(exported), trust_remote_code=True)(str(clip))
    port, log = _free_port(), open(folder / "app.log", "w")
    process = subprocess.Popen([sys.executable, "-S", "-c", LAUNCH, sysconfig.get_paths()["purelib"],
                                str(exported / "app.py"), str(port)], cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"app.py did not start:\n{(folder / 'app.log').read_text()[-3000:]}")
            time.sleep(1)
    yield url, exported, clip, expected
    process.terminate()
    process.wait(30)
    log.close()


def test_the_export_is_a_space_with_the_app_its_requirements_and_samples(app):
    _, exported, _, _ = app
    assert {"app.py", "render.py"} <= {path.name for path in exported.iterdir()}
    requirements = (exported / "requirements.txt").read_text().split()
    assert "gradio==6.31.0" in requirements and any(line.startswith("imageio-ffmpeg") for line in requirements)
    metadata = (exported / "README.md").read_text().split("---")[1]
    assert "sdk: gradio" in metadata and "app_file: app.py" in metadata
    samples = sorted(path.name for path in (exported / "samples").iterdir())
    assert len(samples) == 6 and all(name.startswith(("emilya-", "kdae-")) for name in samples)  # the model's layouts


def test_the_app_explains_an_upload_a_bundled_sample_a_bare_array_and_a_video(app, tmp_path):
    url, exported, clip, expected = app
    client = Client(url, verbose=False)
    for path in (clip, sorted((exported / "samples").glob("kdae-*.npz"))[0]):
        image, text, probabilities = client.predict(handle_file(str(path)), None, None, None, api_name="/explain")
        assert image.startswith("<img src='data:image/gif;base64,")
        confidences = {item["label"]: item["confidence"] for item in probabilities["confidences"]}
        assert set(confidences) == set(LABELS) and sum(confidences.values()) == pytest.approx(1, abs=1e-4)
        assert probabilities["label"] == max(confidences, key=confidences.get)
        assert "Evidence (percentiles among the training clips of" in text
    assert text.startswith(f"<p><b>{probabilities['label']}</b>: ")
    sample = np.load(sorted((exported / "samples").glob("kdae-*.npz"))[0])
    np.save(tmp_path / "clip.npy", sample["positions"])  # a bare array: its frame rate and layout given in the page
    _, _, probabilities = client.predict(handle_file(str(tmp_path / "clip.npy")), None, float(sample["fps"]), "kdae24",
                                         api_name="/explain")
    assert set(c["label"] for c in probabilities["confidences"]) == set(LABELS)
    image, text, probabilities = client.predict(handle_file(str(clip)), None, None, None, api_name="/explain")
    assert probabilities["label"] == expected["label"]
    video = sample_video_cut(tmp_path / "walk.mp4", 0.5, 0.5)  # 3D pose from a video, mapped onto the model's layout
    image, text, probabilities = client.predict(handle_file(str(video)), None, None, None, api_name="/explain")
    assert image.startswith("<img src='data:image/gif;base64,") and probabilities["label"] in LABELS
    assert "placed from their neighbours, not measured: " in text  # a video has no spine joints of its own


def test_the_app_shows_bad_input_as_a_message_naming_the_problem(app, tmp_path):
    url, _, _, _ = app
    client = Client(url, verbose=False)
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    np.savez(tmp_path / "one-frame.npz", positions=np.zeros((1, 24, 3)), fps=30.0, layout="kdae24")
    layout_bvh(tmp_path / "arms.bvh", upper_body_layout())  # a skeleton without legs: nothing to map onto
    with open(tmp_path / "huge.bvh", "wb") as huge:
        huge.truncate(60 * 2**20)
    (tmp_path / "notes.json").write_text("{}")
    expected = {"notes.json": r"Invalid file type.* one of these formats: \['\.bvh', '\.mvnx'",  # refused by Gradio
                "broken.bvh": "broken.bvh", "one-frame.npz": "one-frame.npz: .* 1 frame",
                "arms.bvh": r"arms.bvh: field 'joints' of layout '\w+' match no known layout .* lacks the joints "
                            r"\[.*'l_hip'""",
                "huge.bvh": "huge.bvh is 60.0 MiB, larger than this demo's limit of 50 MiB"}
    kinect = np.random.default_rng(3).uniform(-1, 1, (6, 75))  # Kinect V2 text: 25 joints x 3 per line
    (tmp_path / "kinect.txt").write_text("\n".join(" ".join(f"{v:.5f}" for v in row) for row in kinect) + "\n")
    cases = [(name, None, message) for name, message in expected.items()]
    cases += [("kinect.txt", None, "parameter 'format' is missing")]
    for name, reader, message in cases:
        with pytest.raises(AppError, match=message) as raised:
            client.predict(handle_file(str(tmp_path / name)), reader, None, None, api_name="/explain")
        assert "Traceback" not in str(raised.value)


def test_a_model_folder_without_a_processor_stops_the_app_with_a_message(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    completed = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "app.py"), "--model", str(tmp_path)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode != 0 and "no processor_config.json, expected a model folder with its processor" in \
        completed.stderr and "Traceback" not in completed.stderr


def test_a_real_browser_uploads_a_bvh_and_sees_the_label_and_the_explanation(app, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    assert CHROMIUM.is_file() and CHROMEDRIVER.is_file(), "Debian's chromium and chromium-driver: make test installs them"
    url, _, clip, expected = app
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1400", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(url)
        upload = WebDriverWait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "input[type=file]"))
        upload.send_keys(str(clip))
        WebDriverWait(driver, 60).until(lambda d: clip.name in "".join(d.find_element(By.TAG_NAME, "body").text.split()))
        driver.find_element(By.XPATH, "//button[normalize-space()='Explain']").click()
        explanation = WebDriverWait(driver, 120).until(
            lambda d: "Evidence" in d.find_element(By.ID, "explanation").text and d.find_element(By.ID, "explanation"))
        driver.save_screenshot(str(tmp_path / "app.png"))
        shown = " ".join(explanation.text.split())
        assert shown.startswith(" ".join(f"{expected['label']}: {expected['explanation']}".split()))
        assert driver.find_elements(By.CSS_SELECTOR, "img[src^='data:image/gif;base64,']")  # the animation
    finally:
        driver.quit()
    assert (tmp_path / "app.png").stat().st_size > 10_000
