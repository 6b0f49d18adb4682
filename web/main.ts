// The page's entry: tabs that load their module on first show (so Explore does not carry the engine, and only
// Benchmark loads onnxruntime-web), chosen by the URL's hash; tells whether threads are available.

type Tab = 'explore' | 'classify' | 'your-model' | 'segment' | 'detect' | 'benchmark';
const TABS: Record<Tab, () => Promise<{ show(panel: HTMLElement): void | Promise<void> }>> = {
  explore: () => import('./explore.js'),
  classify: () => import('./classify.js'),
  'your-model': () => import('./your-model.js'),
  segment: () => import('./segment.js'),
  detect: () => import('./detect.js'),
  benchmark: () => import('./benchmark.js'),
};
const started = new Map<Tab, Promise<void>>();

function isTab(name: string): name is Tab {
  return name in TABS;
}

async function select(tab: Tab): Promise<void> {
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('nav [data-tab]'))) button.setAttribute('aria-selected', String(button.dataset.tab === tab));
  for (const name of Object.keys(TABS)) document.getElementById(name)!.hidden = name !== tab;
  const panel = document.getElementById(tab)!;
  if (!started.has(tab)) {
    started.set(
      tab,
      TABS[tab]()
        .then((m) => m.show(panel))
        .then(() => panel.setAttribute('data-ready', 'true')),
    );
  }
  await started.get(tab);
}

function fromHash(): Tab {
  const name = location.hash.slice(1);
  return isTab(name) ? name : 'explore';
}

const isolated = globalThis.crossOriginIsolated === true;
document.getElementById('environment')!.textContent = isolated
  ? `cross-origin isolated: the engine may use ${navigator.hardwareConcurrency} threads`
  : 'not cross-origin isolated: the engine runs on 1 thread (serve the page with COOP/COEP headers for threads)';
for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('nav [data-tab]'))) button.addEventListener('click', () => (location.hash = button.dataset.tab!));
window.addEventListener('hashchange', () => void select(fromHash()));
void select(fromHash());
