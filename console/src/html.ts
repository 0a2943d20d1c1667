/**
 * The console's one view vocabulary: preact's h bound to htm's tagged templates (no JSX build),
 * and the type of what a component returns.
 */
import { h, type VNode } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
export type View = VNode | VNode[] | string | null;
