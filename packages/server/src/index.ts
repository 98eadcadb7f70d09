export { buildApp } from './http/app.js';
export { loadConfig, type Config } from './config/index.js';
export { startServer } from './server.js';
