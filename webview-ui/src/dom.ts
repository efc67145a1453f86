/** Small DOM helpers: elements are built with properties, never HTML strings with inline styles (the CSP forbids them). */

type Props<K extends keyof HTMLElementTagNameMap> = Partial<Omit<HTMLElementTagNameMap[K], 'dataset' | 'style'>> & { dataset?: Record<string, string> };

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props<K> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(e, rest);
  if (dataset) for (const [k, v] of Object.entries(dataset)) e.dataset[k] = v;
  for (const c of children) e.append(c);
  return e;
}

export function clear(e: Element): void {
  while (e.firstChild) e.firstChild.remove();
}

export function option(value: string, label: string, selected = false): HTMLOptionElement {
  return el('option', { value, textContent: label, selected });
}
