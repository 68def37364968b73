/* tests/native/fixture.c — an ELF object with known functions for the resolver's unit tests
 * (built with .symtab and DWARF; meson also makes a stripped copy with a .gnu_debuglink). */
int fixture_alpha(int x);

/* static: only .symtab (or the debug file) names it */
__attribute__((noinline)) static int fixture_beta(int x)
{
	int y = x * 3;
	return y + 7;
}

__attribute__((visibility("default"), noinline)) int fixture_alpha(int x)
{
	int r = fixture_beta(x);
	return r * 2;
}

/* The test finds fixture_beta's address through this table. */
__attribute__((visibility("default"))) int (*const fixture_beta_ptr)(int) = fixture_beta;
