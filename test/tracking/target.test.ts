import { describe, expect, it } from 'vitest';
import { resolveTarget } from '../../src/tracking/target.js';

describe('tracking URI resolution', () => {
  it('lets MLFLOW_TRACKING_URI win and defaults to <project>/mlruns', () => {
    expect(resolveTarget(null, {}, '/p')).toEqual({ ok: true, value: { kind: 'file', root: '/p/mlruns', uri: 'file:///p/mlruns' } });
    expect(resolveTarget('file:./runs', {}, '/p')).toMatchObject({ ok: true, value: { kind: 'file', root: '/p/runs' } });
    expect(resolveTarget('file:///abs/x', {}, '/p')).toMatchObject({ ok: true, value: { kind: 'file', root: '/abs/x' } });
    expect(resolveTarget('./local', {}, '/p')).toMatchObject({ ok: true, value: { kind: 'file', root: '/p/local' } });
    expect(resolveTarget('file:./runs', { MLFLOW_TRACKING_URI: 'http://h:5000/' }, '/p')).toMatchObject({
      ok: true,
      value: { kind: 'rest', baseUrl: 'http://h:5000' },
    });
  });

  it('sends a Bearer token, else basic auth (also from user:pass@ in the URI, never kept in the URL)', () => {
    const bearer = resolveTarget('https://h', { MLFLOW_TRACKING_TOKEN: 't', MLFLOW_TRACKING_USERNAME: 'u' }, '/p');
    expect(bearer.ok && bearer.value.kind === 'rest' && bearer.value.headers).toEqual({ authorization: 'Bearer t' });
    const basic = resolveTarget('https://h', { MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p w' }, '/p');
    expect(basic.ok && basic.value.kind === 'rest' && basic.value.headers).toEqual({
      authorization: `Basic ${Buffer.from('u:p w').toString('base64')}`,
    });
    const inUrl = resolveTarget('https://ann:s%40fe@h:8080/mlflow', {}, '/p');
    expect(inUrl.ok && inUrl.value.kind === 'rest' && [inUrl.value.baseUrl, inUrl.value.headers]).toEqual([
      'https://h:8080/mlflow',
      { authorization: `Basic ${Buffer.from('ann:s@fe').toString('base64')}` },
    ]);
  });

  it('refuses schemes it cannot write', () => {
    expect(resolveTarget('sqlite:///mlflow.db', {}, '/p')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unsupported MLflow tracking URI/),
    });
    expect(resolveTarget('databricks', {}, '/p')).toMatchObject({ ok: false }); // MLflow's name for Databricks, not a path
    expect(resolveTarget('runs-dir', {}, '/p')).toMatchObject({ ok: true, value: { root: '/p/runs-dir' } });
  });
});
