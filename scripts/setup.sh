#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian machine: system packages, npm packages, the e2e host.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=''
[ "$(id -u)" = 0 ] || SUDO='sudo'
# chromium + libkrb5-dev + ripgrep: VS Code (code-server) e2e; python3-skimage: real photos for the ImageNet check;
# python3-h5py: Keras' own HDF5 reading of what we write (h5.test.ts).
# dcmtk + libgdcm-tools + python3-pydicom (+ numpy, PIL): DICOM test files in every transfer syntax, and pydicom's reading of them.
# python3-sklearn, python3-statsmodels: reference values for the report and reader-agreement statistics; poppler-utils: pdftoppm renders exported PDFs in e2e.
# slurm-wlm + munge: a single-node Slurm that runs docs/SCALE.md's job scripts (slurm.test.ts).
APT_PACKAGES=(chromium libkrb5-dev ripgrep python3-skimage python3-h5py dcmtk libgdcm-tools python3-pydicom python3-numpy python3-pil python3-sklearn python3-statsmodels poppler-utils slurm-wlm munge)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: apt-get install ${missing[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The plain install users type: .npmrc stops onnxruntime-node's CUDA download (which fails offline);
# tfjs-node(-gpu) are optional and their libtensorflow download fails offline by design: the backend ladder copes.
npm ci --no-audit --no-fund

if [ -x test/e2e/setup.sh ]; then
	test/e2e/setup.sh
fi
