"""Rules that map one model's variable names onto another's, for `mvl_train --init_rename`
(warm_start.restore_initial_weights). Free of TensorFlow, so that the program checks them at once."""
import re


def parse(rules):
  """[(compiled pattern, replacement)] from 'PATTERN=REPLACEMENT' strings (a regular expression and
  its re.sub replacement); ValueError naming a bad rule."""
  parsed = []
  for rule in rules or ():
    pattern, sep, replacement = rule.partition('=')
    if not sep or not pattern:
      raise ValueError(f'--init_rename {rule!r}: expected PATTERN=REPLACEMENT, e.g. '
                       "'^decoder/=core_decoder/decoder/'.")
    try:
      parsed.append((re.compile(pattern), replacement))
    except re.error as e:
      raise ValueError(f'--init_rename {rule!r}: {pattern!r} is not a regular expression: '
                       f'{e}.') from e
  return parsed


def apply(name, rules):
  """`name` rewritten by the first rule whose pattern matches it, or unchanged."""
  for pattern, replacement in rules:
    if pattern.search(name):
      return pattern.sub(replacement, name, count=1)
  return name
