#!/bin/sh
# Preview only: screenshots of each built panel in dark, light and high contrast with headless chromium.
# Usage: npm run build && node webview/makePreviewSample.mjs && sh webview/screenshot.sh [outdir]
out=${1:-/tmp/shots}
mkdir -p "$out"
shot() { # name query
	timeout 90 chromium --headless --no-sandbox --disable-gpu --allow-file-access-from-files --hide-scrollbars \
		--virtual-time-budget=6000 --window-size=1400,900 --screenshot="$out/$1.png" \
		"file://$(pwd)/webview/preview.html?$2" >/dev/null 2>&1 && echo "$out/$1.png"
}
for t in dark light hc; do
	for p in predictions training dataset compare; do shot "$p-$t" "panel=$p&theme=$t"; done
done
shot predictions-cell-dark 'panel=predictions&theme=dark&cell=NORMAL,COVID'
shot predictions-detail-dark 'panel=predictions&theme=dark&detail=1'
shot predictions-detail-light 'panel=predictions&theme=light&detail=3'
shot dataset-leak-light 'panel=dataset&theme=light&leak=1'
