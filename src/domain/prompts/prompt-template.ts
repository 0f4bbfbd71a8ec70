/**
 * The chat-API dialect's prompt variables: `{name}` is replaced by the variable `name`; `{{` and `}}` are a
 * literal `{` and `}` (as in Python's str.format, which the document's examples follow). A brace
 * around anything that is not a name (`{ a b }`, a lone `{`) is kept as written.
 */
const tokenPattern = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface RenderedTemplate {
  text: string;
  /** The variable names the template uses, in order of first use. */
  variables: string[];
  /** Used by the template but not given. */
  missing: string[];
  /** Given but not used by the template. */
  unused: string[];
}

/** The variable names a template uses, in order of first use. */
export function templateVariables(template: string): string[] {
  const names = new Set<string>();
  for (const match of template.matchAll(tokenPattern)) if (match[1]) names.add(match[1]);
  return [...names];
}

/** Renders a template; a missing variable is left as written and reported in `missing`. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): RenderedTemplate {
  const variables = templateVariables(template);
  const has = (name: string) => Object.hasOwn(values, name);
  const text = template.replace(tokenPattern, (token, name: string | undefined) => {
    if (token === '{{') return '{';
    if (token === '}}') return '}';
    return has(name!) ? values[name!]! : token;
  });
  return {
    text,
    variables,
    missing: variables.filter((name) => !has(name)),
    unused: Object.keys(values).filter((name) => !variables.includes(name)),
  };
}
