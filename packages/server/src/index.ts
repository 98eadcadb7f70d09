export { type Config, loadConfig } from './config/index.js';
export { buildApp } from './app.js';
export { startServer } from './server.js';
