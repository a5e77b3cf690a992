// @roamhq/wrtc ships no type declarations; the tests use it as the browser API shape.
declare module '@roamhq/wrtc' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrtc: any;
  export default wrtc;
}
