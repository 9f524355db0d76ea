/**
 * A count the way Ollama shows parameter sizes (`format.HumanNumber`): whole values drop decimals
 * (`8B`, `135M`), others keep one decimal for billions (`1.5B`) and two for millions (`2.35M`);
 * thousands are rounded to a whole `K`; below 1000 the plain number.
 *
 * Go's `%.Nf` rounds the float64 quotient exactly, ties to even; JavaScript's `toFixed` rounds ties
 * up. The exact decimal expansion of the quotient decides, so `1250000000` is `1.2B` as in Ollama.
 */
export function humanNumber(count: number | bigint): string {
  const n = typeof count === 'bigint' ? Number(count) : count
  if (!Number.isFinite(n) || n < 0) throw new RangeError('humanNumber: count must be a non-negative number')
  if (n >= 1e9) return scaled(n / 1e9, 1, 'B')
  if (n >= 1e6) return scaled(n / 1e6, 2, 'M')
  if (n >= 1e3) return `${goFixed(n / 1e3, 0)}K`
  return String(typeof count === 'bigint' ? count : Math.trunc(n))
}

function scaled(value: number, decimals: number, suffix: string): string {
  return `${value === Math.floor(value) ? goFixed(value, 0) : goFixed(value, decimals)}${suffix}`
}

/** `value` with `decimals` digits after the point, rounded as Go's strconv does (exact value, ties to even). */
export function goFixed(value: number, decimals: number): string {
  // toFixed(60) is exact for these magnitudes: a double >= 1 has at most 52 fractional binary digits.
  const exact = value.toFixed(60)
  const point = exact.indexOf('.')
  const kept = exact.slice(0, point + (decimals > 0 ? decimals + 1 : 0))
  const rest = exact.slice(point + 1 + decimals)
  const tie = /^50*$/.test(rest)
  const up = rest > '5' && !tie ? true : tie ? lastDigitOdd(kept) : false
  return up ? increment(kept) : kept
}

function lastDigitOdd(text: string): boolean {
  const digit = text.replace('.', '').slice(-1)
  return Number(digit) % 2 === 1
}

/** Add one unit in the last place of a non-negative decimal string. */
function increment(text: string): string {
  const digits = text.replace('.', '').split('').map(Number)
  let i = digits.length - 1
  while (i >= 0) {
    if (digits[i] === 9) {
      digits[i] = 0
      i--
    } else {
      digits[i]! += 1
      break
    }
  }
  if (i < 0) digits.unshift(1)
  const point = text.indexOf('.')
  const joined = digits.join('')
  if (point < 0) return joined
  const fraction = text.length - point - 1
  return `${joined.slice(0, joined.length - fraction)}.${joined.slice(joined.length - fraction)}`
}
