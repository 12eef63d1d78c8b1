// The Python peers of the benchmark (Pillow, OpenCV, PyTorch), as scripts run with the system python3.
// Each prints one line `BENCH_RESULT <json>`.

export const PY_PREPROCESS = String.raw`
import sys, json, time, resource
cfg = json.loads(sys.argv[1])
files, size = cfg['files'], cfg['size']
out = {}
try:
    import numpy as np
    from PIL import Image
    import PIL
    def pil(f):
        im = Image.open(f).convert('RGB').resize((size, size), Image.LANCZOS)
        return np.asarray(im)
    pil(files[0])
    t, c = time.perf_counter(), time.process_time()
    for f in files: pil(f)
    out['pillow'] = {'seconds': time.perf_counter() - t, 'cpuSeconds': time.process_time() - c, 'version': PIL.__version__}
except Exception as e:
    out['pillow'] = {'error': str(e)}
try:
    import cv2
    cv2.setNumThreads(cfg['threads'])
    def cv(f):
        im = cv2.imread(f, cv2.IMREAD_COLOR)
        im = cv2.resize(im, (size, size), interpolation=cv2.INTER_LANCZOS4)
        return cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
    cv(files[0])
    t, c = time.perf_counter(), time.process_time()
    for f in files: cv(f)
    out['opencv'] = {'seconds': time.perf_counter() - t, 'cpuSeconds': time.process_time() - c, 'version': cv2.__version__}
except Exception as e:
    out['opencv'] = {'error': str(e)}
out['maxRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print('BENCH_RESULT ' + json.dumps(out))
`;

export const PY_TORCH = String.raw`
import sys, json, time, resource
cfg = json.loads(sys.argv[1])
import numpy as np, torch, torch.nn as nn, torchvision
torch.set_num_threads(cfg['threads'])
size = cfg['size']

def sep(cin, cout):
    return [nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
class Res(nn.Module):
    def __init__(self, body, skip=None):
        super().__init__(); self.body = nn.Sequential(*body); self.skip = skip
    def forward(self, x):
        return self.body(x) + (self.skip(x) if self.skip is not None else x)
def down(cin, c1, c2, first_relu=True):
    body = ([nn.ReLU()] if first_relu else []) + sep(cin, c1) + [nn.ReLU()] + sep(c1, c2) + [nn.MaxPool2d(3, 2, padding=1)]
    return Res(body, nn.Sequential(nn.Conv2d(cin, c2, 1, 2, bias=False), nn.BatchNorm2d(c2)))
def mid():
    body = []
    for _ in range(3): body += [nn.ReLU()] + sep(728, 728)
    return Res(body)
def xception():
    # keras.applications.Xception's structure (entry, 8 middle blocks, exit), notop.
    return nn.Sequential(nn.Conv2d(3, 32, 3, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        down(64, 128, 128, False), down(128, 256, 256), down(256, 728, 728), *[mid() for _ in range(8)],
        down(728, 728, 1024), *sep(1024, 1536), nn.ReLU(), *sep(1536, 2048), nn.ReLU())

arch = cfg['arch']
if arch == 'vgg16': m = torchvision.models.vgg16().features
elif arch == 'resnet50': m = nn.Sequential(*list(torchvision.models.resnet50().children())[:-2])
elif arch == 'xception': m = xception()
else: raise SystemExit('unknown arch ' + arch)
m = m.eval()
x = torch.from_numpy(np.fromfile(cfg['input'], dtype=np.float32).reshape(-1, size, size, 3)).permute(0, 3, 1, 2).contiguous()
res = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
def timed(n, min_s, min_it, max_it):
    xb = x[:n]
    it, t0 = 0, time.perf_counter()
    while it < min_it or (time.perf_counter() - t0 < min_s and it < max_it):
        m(xb); it += 1
    return (time.perf_counter() - t0) / it
with torch.no_grad():
    m(x[:1]); m(x[:1])
    for b in cfg['batches']:
        if b > 1: m(x[:b])
        res['b%d' % b] = timed(b, cfg['minSeconds'], 1, cfg['maxIters'])
    res['maxRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cfg.get('onnxOut'):
        try:
            torch.onnx.export(m, x[:1], cfg['onnxOut'], input_names=['input'], output_names=['output'],
                dynamic_axes={'input': {0: 'N'}, 'output': {0: 'N'}}, opset_version=13)
            res['onnx'] = cfg['onnxOut']
        except Exception as e:
            res['onnxError'] = str(e).split('\n')[0]
print('BENCH_RESULT ' + json.dumps(res))
`;
