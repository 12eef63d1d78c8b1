// One import point for webviews and host: `import { ... } from '../../src/protocol'`.
export * from './guards';
export * from './common';
export * from './dataset';
export * from './training';
export * from './predictions';
export * from './compare';
export * from './viewer';
export * from './audit';
export * from './testIds';
export * from './report';
