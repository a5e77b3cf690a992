// Reads sfud's Prometheus text: `value('name{labels}')` is the sample of
// that exact series (NaN when absent).
export async function scrape(url: string): Promise<{ text: string; value: (series: string) => number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };
  return { text, value };
}
