# PyTorch's training throughput on the same model as bench/train.ts (a peer, not a dependency):
# torchvision MobileNetV2 with our Fashion-MNIST recipe's shape, SGD step included, images/s at a batch size.
import json, sys, time
import torch, torchvision

def model(alpha, classes, stem_stride):
    m = torchvision.models.mobilenet_v2(width_mult=alpha, num_classes=classes)
    stem = m.features[0][0]
    m.features[0][0] = torch.nn.Conv2d(1, stem.out_channels, 3, stem_stride, 1, bias=False)  # grey input
    return m

def main():
    alpha, batch, threads, steps = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = model(alpha, 10, 1).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"runtime": f"PyTorch {torch.__version__}", "threads": threads, "batch": batch, "medianMs": median * 1000, "imagesPerSecond": batch / median}))

main()
