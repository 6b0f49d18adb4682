// Entry of the library's browser bundle (dist/bundle/mobilenet.js): the whole core, plus the browser image adapter
// and dropped-file model loading, as one ES module that a page imports with a plain <script type="module">.

export * from '../index.js';
export * from './index.js';
// the browser's loadModel, which also takes elements and canvases, wins over the core's
export { loadModel } from './index.js';
