import { describe, expect, it } from 'vitest';
import { publicSource } from './project.ts';

describe('the source label', () => {
  it('never carries a credential from the remote URL', () => {
    expect(publicSource('https://ci:ghp_secret123@example.org/team/cosmo.git')).toBe(
      'https://example.org/team/cosmo.git',
    );
    expect(publicSource('https://token@example.org/cosmo.git')).toBe('https://example.org/cosmo.git');
  });

  it('keeps URLs without user info, and scp-like addresses, as they are', () => {
    expect(publicSource('https://example.org/team/cosmo.git')).toBe('https://example.org/team/cosmo.git');
    expect(publicSource('git@example.org:team/cosmo.git')).toBe('git@example.org:team/cosmo.git');
    expect(publicSource('unknown')).toBe('unknown');
  });
});
