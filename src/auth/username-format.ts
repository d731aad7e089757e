// auth_username_format: Dovecot's %-variables for normalising login names before lookup:
// %u user, %n local part, %d domain, with the L (lower-case) and U (upper-case) modifiers; %% is "%".

export function formatUsername(format: string, user: string): string {
  if (!format) return user;
  const at = user.lastIndexOf('@');
  const values: Record<string, string> = {
    u: user,
    n: at < 0 ? user : user.slice(0, at),
    d: at < 0 ? '' : user.slice(at + 1),
  };
  return format.replace(/%([LU]?)([und%])/g, (_all, modifier: string, key: string) => {
    if (key === '%') return '%';
    const v = values[key];
    return modifier === 'L' ? v.toLowerCase() : modifier === 'U' ? v.toUpperCase() : v;
  });
}

/** Fills %u, %n, %d in an LDAP filter or DN template, each value passed through `escape`. */
export function expandTemplate(template: string, user: string, escape: (v: string) => string): string {
  const at = user.lastIndexOf('@');
  const values: Record<string, string> = { u: user, n: at < 0 ? user : user.slice(0, at), d: at < 0 ? '' : user.slice(at + 1) };
  return template.replace(/%([LU]?)([und%])/g, (_all, modifier: string, key: string) => {
    if (key === '%') return '%';
    let v = values[key];
    if (modifier === 'L') v = v.toLowerCase();
    if (modifier === 'U') v = v.toUpperCase();
    return escape(v);
  });
}
