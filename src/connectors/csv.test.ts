import { describe, expect, it } from 'vitest'
import { CSV_HEADER, CSV_MALFORMED, CSV_NEED_MORE, CSV_RECORD, CsvDecoder, inferColumnType, validateCsvOptions, type CsvOptions } from './csv.ts'

/** Feeds whole lines (split on \n, keeping a trailing \r as the crlf flag) and collects the outcome. */
function decode(text: string, options?: CsvOptions): Array<unknown> {
  const decoder = new CsvDecoder(options)
  const results: unknown[] = []
  for (const raw of text.split('\n')) {
    const crlf = raw.endsWith('\r')
    const status = decoder.feed(crlf ? raw.slice(0, -1) : raw, crlf)
    if (status === CSV_RECORD) results.push(decoder.value)
    if (status === CSV_MALFORMED) results.push({ malformed: decoder.reason, raw: decoder.raw })
  }
  if (decoder.end() === CSV_MALFORMED) results.push({ malformed: decoder.reason, raw: decoder.raw })
  return results
}

describe('CsvDecoder quoting (RFC 4180)', () => {
  const noHeader = { header: false }

  it('splits plain fields, keeping empty ones', () => {
    expect(decode('a,b,c', noHeader)).toEqual([['a', 'b', 'c']])
    expect(decode(',a,,', noHeader)).toEqual([['', 'a', '', '']])
    expect(decode('single', noHeader)).toEqual([['single']])
  })

  it('reads quoted fields containing delimiters and doubled quotes', () => {
    expect(decode('"a,b","say ""hi""",c', noHeader)).toEqual([['a,b', 'say "hi"', 'c']])
    expect(decode('"",""""', noHeader)).toEqual([['', '"']])
    expect(decode('x,"trailing"', noHeader)).toEqual([['x', 'trailing']])
    expect(decode('"a",', noHeader)).toEqual([['a', '']])
  })

  it('keeps line breaks inside quoted fields, across lines', () => {
    expect(decode('1,"two\nlines",3\n4,"x",5', noHeader)).toEqual([['1', 'two\nlines', '3'], ['4', 'x', '5']])
    expect(decode('"a\n\nb"', noHeader)).toEqual([['a\n\nb']])
    expect(decode('"crlf\r\ninside",z\r', noHeader)).toEqual([['crlf\r\ninside', 'z']])
    expect(decode('"ends with newline\n"', noHeader)).toEqual([['ends with newline\n']])
  })

  it('reports the whole multi-line record as raw', () => {
    const decoder = new CsvDecoder(noHeader)
    expect(decoder.feed('1,"a', false)).toBe(CSV_NEED_MORE)
    expect(decoder.pending).toBe(true)
    expect(decoder.feed('b"x,2', false)).toBe(CSV_MALFORMED)
    expect(decoder.raw).toBe('1,"a\nb"x,2')
    expect(decoder.reason).toBe('field 2: unexpected "x" after closing quote')
  })

  it('treats a quote inside an unquoted field as a literal', () => {
    expect(decode('5" pipe,ok', noHeader)).toEqual([['5" pipe', 'ok']])
  })

  it('flags text after a closing quote, and an unterminated quote at end of input', () => {
    expect(decode('"ab"c,d', noHeader)).toEqual([{ malformed: 'field 1: unexpected "c" after closing quote', raw: '"ab"c,d' }])
    expect(decode('ok\n"never closed,x', noHeader)).toEqual([['ok'], { malformed: 'unterminated quoted field at end of input', raw: '"never closed,x' }])
  })

  it('uses another delimiter', () => {
    expect(decode('a;"b;c";d', { header: false, delimiter: ';' })).toEqual([['a', 'b;c', 'd']])
    expect(decode('a\tb', { header: false, delimiter: '\t' })).toEqual([['a', 'b']])
  })
})

describe('CsvDecoder records', () => {
  it('names fields after the header row', () => {
    const decoder = new CsvDecoder({ infer: false })
    expect(decoder.feed('id,name', false)).toBe(CSV_HEADER)
    expect(decoder.feed('1,ann', false)).toBe(CSV_RECORD)
    expect(decoder.value).toEqual({ id: '1', name: 'ann' })
  })

  it('names fields after columns, replacing the header row or without one', () => {
    expect(decode('x,y\n1,2', { columns: ['a', 'b'], infer: false })).toEqual([{ a: '1', b: '2' }])
    expect(decode('1,2', { header: false, columns: ['a', 'b'] })).toEqual([{ a: 1, b: 2 }])
  })

  it('converts typed columns', () => {
    const types = { n: 'number', ok: 'boolean', s: 'string' } as const
    expect(decode('n,ok,s\n1.5,true,7\n-2e3,0,x\n 4 ,FALSE,', { types })).toEqual([
      { n: 1.5, ok: true, s: '7' },
      { n: -2000, ok: false, s: 'x' },
      { n: 4, ok: false, s: '' },
    ])
  })

  it('marks a value that does not convert as malformed, naming the column, the value and how to declare the type', () => {
    const types = { price: 'number', ok: 'boolean' } as const
    const how = (column: string): string => `the type csv.types declares for it; fix the input, or declare the column's type as it is written (csv: { types: { ${column}: 'string' } }, see docs/GUIDE.md#csv-columns)`
    expect(decode('price,ok\nabc,true\n,true\n1,maybe', { types })).toEqual([
      { malformed: `column price: 'abc' is not a number, ${how('price')}`, raw: 'abc,true' },
      { malformed: `column price: '' is not a number, ${how('price')}`, raw: ',true' },
      { malformed: `column ok: 'maybe' is not a boolean (true/false/1/0), ${how('ok')}`, raw: '1,maybe' },
    ])
  })

  it('marks a record with the wrong number of fields as malformed', () => {
    expect(decode('a,b,c,d,e\n1,2,3\n1,2,3,4,5,6')).toEqual([
      { malformed: 'expected 5 fields, got 3', raw: '1,2,3' },
      { malformed: 'expected 5 fields, got 6', raw: '1,2,3,4,5,6' },
    ])
  })

  it('takes the header and the first record from outside when a split starts after them', () => {
    const decoder = new CsvDecoder({ types: { n: 'number' } })
    decoder.setStart(['n', 'm', 'k'], ['1', 'x', '5'])
    expect(decoder.feed('3,7,8', false)).toBe(CSV_RECORD)
    expect(decoder.value).toEqual({ n: 3, m: '7', k: 8 })
  })

  it('rejects types naming a column the header lacks, when the header arrives', () => {
    const decoder = new CsvDecoder({ types: { nope: 'number' } })
    expect(() => decoder.feed('a,b', false)).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})

describe('CsvDecoder column types inferred from the first record', () => {
  it('makes a column of plain decimal numbers a number, of true/false a boolean, anything else a string', () => {
    expect(decode('user,ts,price,ok,zip,id,code\nann,1767225600000,-9.5,TRUE,007,12345678901234567890,1e3\nbob,1767225601000,10,false,12,3,2', {})).toEqual([
      { user: 'ann', ts: 1767225600000, price: -9.5, ok: true, zip: '007', id: '12345678901234567890', code: 1000 },
      { user: 'bob', ts: 1767225601000, price: 10, ok: false, zip: '12', id: '3', code: 2 },
    ])
  })

  it.each([['', 'string'], [' 4', 'string'], ['+1', 'string'], ['0x1f', 'string'], ['Infinity', 'string'], ['NaN', 'string'], ['1.', 'string'], ['0', 'number'], ['-0.25', 'number'], ['2E-3', 'number'], ['false', 'boolean']])(
    'infers %j as %s', (value, type) => expect(inferColumnType(value)).toBe(type))

  it('declared types win; the others are inferred; infer: false keeps them strings', () => {
    expect(decode('a,b\n1,2', { types: { a: 'string' } })).toEqual([{ a: '1', b: 2 }])
    expect(decode('a,b\n1,true', { infer: false })).toEqual([{ a: '1', b: 'true' }])
  })

  it('infers from the first record with the right number of fields, skipping malformed ones', () => {
    expect(decode('a,b\n1\nx,2\ny,3')).toEqual([
      { malformed: 'expected 2 fields, got 1', raw: '1' },
      { a: 'x', b: 2 },
      { a: 'y', b: 3 },
    ])
  })

  it('a later value that does not fit the inferred type is malformed, with the first value and how to declare the column', () => {
    expect(decode('user,ts\nann,1767225600000\nbob,soon\ncid,1.5')).toEqual([
      { user: 'ann', ts: 1767225600000 },
      { malformed: "column ts: 'soon' is not a number, the type inferred from the column's first value ('1767225600000'); declare the column's type: csv: { types: { ts: 'string' } } (or 'number', 'boolean'; see docs/GUIDE.md#csv-columns)", raw: 'bob,soon' },
      { user: 'cid', ts: 1.5 },
    ])
  })

  it('leaves records without column names as arrays of strings', () => {
    expect(decode('1,true', { header: false })).toEqual([['1', 'true']])
  })
})

describe('validateCsvOptions', () => {
  it.each<[CsvOptions, RegExp]>([
    [{ delimiter: ';;' }, /delimiter/],
    [{ delimiter: '"' }, /delimiter/],
    [{ header: false, types: { a: 'number' } }, /needs column names/],
    [{ columns: ['a'], types: { b: 'number' } }, /not among the columns/],
    [{ types: { a: 'date' as 'number' } }, /must be 'number', 'string' or 'boolean'.*docs\/GUIDE.md#csv-columns/],
    [{ infer: 'yes' as unknown as boolean }, /csv.infer must be true or false/],
  ])('rejects %j', (options, message) => {
    expect(() => validateCsvOptions(options)).toThrow(message)
    expect(() => validateCsvOptions(options)).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})
