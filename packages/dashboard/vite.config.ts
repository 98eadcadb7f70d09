import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

/** Built to static files that the server serves at /app/: no CDN, no inline scripts or styles. */
export default defineConfig({
  base: '/app/',
  plugins: [react()],
  // @latchkey/contract is bundled from its TypeScript source: nothing has to be built first.
  resolve: { conditions: ['latchkey-source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Inlined assets would become data: URLs; keep every asset a file under the strict CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
