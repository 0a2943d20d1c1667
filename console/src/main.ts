/** Entry point: mounts the console into <body> (index.html loads this module). */
import { render } from 'preact';
import { App } from './app.js';
import { html } from './html.js';

render(html`<${App} />`, document.body);
