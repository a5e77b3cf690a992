import t from 'tap';
import fc from 'fast-check';
import { RtpView, encodeRtp, parseRtp } from '../../src/rtp/rtp.js';

const RUNS = 10_000;

t.test('arbitrary bytes never throw', async (t) => {
  const v = new RtpView();
  const map = new Uint8Array(256).map((_, i) => (i * 7) & 0xff);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(16), (bytes, skew) => {
      const buf = Buffer.from(bytes);
      const off = Math.min(skew, buf.length);
      if (!v.reset(buf, off, buf.length - off)) return;
      // A view that parsed answers every getter inside the packet.
      for (let id = 0; id < 256; id++) {
        const p = v.findExtension(id);
        if (p >= 0 && p + v.extValueLength > off + v.length) throw new Error('extension outside packet');
      }
      if (v.payloadLength < 0) throw new Error('negative payload');
      v.remapExtensionIds(map);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('valid-looking headers with random extension blocks never throw', async (t) => {
  const v = new RtpView();
  fc.assert(
    fc.property(
      fc.constantFrom(0xbede, 0x1000, 0x1001, 0x0000, 0xffff),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 32 }),
      (profile, ext, payload) => {
        const words = Math.ceil(ext.length / 4);
        const buf = Buffer.alloc(16 + words * 4 + payload.length);
        buf[0] = 0x90;
        buf.writeUInt16BE(profile, 12);
        buf.writeUInt16BE(words, 14);
        buf.set(ext, 16);
        buf.set(payload, 16 + words * 4);
        if (!v.reset(buf)) throw new Error('a well-formed block must parse');
        for (let id = 0; id < 256; id++) v.findExtension(id);
        v.remapExtensionIds(new Uint8Array(256).fill(3));
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

const extArb = fc.uniqueArray(
  fc.record({ id: fc.integer({ min: 1, max: 255 }), value: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  { selector: (e) => e.id, maxLength: 5 },
);

t.test('generated packets round-trip byte-equal', async (t) => {
  fc.assert(
    fc.property(
      fc.record({
        payloadType: fc.integer({ min: 0, max: 127 }),
        sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
        timestamp: fc.nat({ max: 0xffffffff }),
        ssrc: fc.nat({ max: 0xffffffff }),
        marker: fc.boolean(),
        csrcs: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 15 }),
        extensions: extArb,
        padding: fc.integer({ min: 0, max: 255 }),
      }),
      fc.uint8Array({ maxLength: 200 }),
      (init, payload) => {
        const buf = encodeRtp(init, payload);
        const v = parseRtp(buf);
        if (!v) throw new Error('did not parse');
        if (v.payloadType !== init.payloadType || v.sequenceNumber !== init.sequenceNumber) throw new Error('pt/seq');
        if (v.timestamp !== init.timestamp || v.ssrc !== init.ssrc || v.marker !== init.marker) throw new Error('ts/ssrc/m');
        if (!v.payload().equals(Buffer.from(payload))) throw new Error('payload');
        if (v.paddingLength !== init.padding) throw new Error('padding');
        const exts = init.extensions.map((e) => ({ id: e.id, value: v.getExtension(e.id) ?? Buffer.alloc(0) }));
        for (let i = 0; i < exts.length; i++) {
          if (!exts[i]!.value.equals(Buffer.from(init.extensions[i]!.value))) throw new Error(`extension ${init.extensions[i]!.id}`);
        }
        const csrcs = Array.from({ length: v.csrcCount }, (_, i) => v.csrc(i));
        const again = encodeRtp({ ...init, csrcs, extensions: exts, padding: v.paddingLength }, v.payload());
        if (!again.equals(buf)) throw new Error('re-serialization differs');
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});
