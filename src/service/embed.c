/* embed.c - build helper: turn a file into a C array.
 * usage: embed NAME INPUT OUTPUT.c  →  const char NAME[]; const size_t NAME_len. */
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: embed NAME INPUT OUTPUT.c\n");
		return 2;
	}
	FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "w");
	if (!in || !out) {
		perror(in ? argv[3] : argv[2]);
		return 1;
	}
	fprintf(out, "/* generated from %s by embed; do not edit */\n#include <stddef.h>\n"
		     "extern const char %s[];\nextern const size_t %s_len;\nconst char %s[] = {",
		argv[2], argv[1], argv[1], argv[1]);
	size_t n = 0;
	int c;
	while ((c = getc(in)) != EOF)
		fprintf(out, "%s%d,", n++ % 20 ? "" : "\n\t", c);
	fprintf(out, "\n\t0\n};\nconst size_t %s_len = %zu;\n", argv[1], n);
	int bad = ferror(in) || ferror(out);
	fclose(in);
	return fclose(out) != 0 || bad;
}
