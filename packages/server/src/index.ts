export { type Config, loadConfig } from './config/index.js';
export { buildApp } from './http/app.js';
export { startServer } from './server.js';
