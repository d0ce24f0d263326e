/* Unit tests: the configuration table, file, environment, secrets, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "core/config.h"

static char dir[] = "/tmp/tandem-config-XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *path_of(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void clear_env(void)
{
	unsetenv("TANDEM_LISTEN");
	unsetenv("TANDEM_BOGUS");
	unsetenv("TANDEM_DATABASE_URL");
	unsetenv("TANDEM_DATABASE_URL_FILE");
	unsetenv("TANDEM_THREADS");
	unsetenv("TANDEM_CONFIG");
}

static void test_defaults_file_env(void **state)
{
	(void)state;
	clear_env();
	struct config c;
	char err[256];
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_int_equal(c.threads, 8);
	assert_true(c.access_log);
	config_free(&c);

	write_file("a.conf",
	           "# comment\n\nlisten = 127.0.0.1:9000\nthreads=4\nbase_url = \"https://x.example\"\n"
	           "access_log = no\n");
	assert_int_equal(config_load(&c, path_of("a.conf"), err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_int_equal(c.threads, 4);
	assert_string_equal(c.base_url, "https://x.example");
	assert_false(c.access_log);
	config_free(&c);

	/* The environment wins over the file. */
	setenv("TANDEM_LISTEN", "127.0.0.1:9100", 1);
	assert_int_equal(config_load(&c, path_of("a.conf"), err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:9100");
	config_free(&c);
	clear_env();
}

static void test_errors(void **state)
{
	(void)state;
	clear_env();
	struct config c;
	char err[256];
	write_file("b.conf", "listen = 1.2.3.4:1\nnot_a_key = 1\n");
	assert_int_equal(config_load(&c, path_of("b.conf"), err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "unknown key \"not_a_key\""));
	assert_non_null(strstr(err, ":2"));
	config_free(&c);
	setenv("TANDEM_BOGUS", "1", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "TANDEM_BOGUS"));
	config_free(&c);
	clear_env();
	setenv("TANDEM_THREADS", "0", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), ERR_CONFIG);
	config_free(&c);
	clear_env();
	setenv("TANDEM_LISTEN", "nonsense", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), ERR_CONFIG);
	config_free(&c);
	clear_env();
	write_file("c.conf", "base_url = http://x/\n");
	assert_int_equal(config_load(&c, path_of("c.conf"), err, sizeof(err)), ERR_CONFIG);
	config_free(&c);
	write_file("d.conf", "listen\n");
	assert_int_equal(config_load(&c, path_of("d.conf"), err, sizeof(err)), ERR_CONFIG);
	config_free(&c);
}

static void test_secret_file_and_redaction(void **state)
{
	(void)state;
	clear_env();
	write_file("db.secret", "postgresql://app:s3cr3t@db.internal/tandem\n");
	setenv("TANDEM_DATABASE_URL_FILE", path_of("db.secret"), 1);
	struct config c;
	char err[256];
	assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.database_url, "postgresql://app:s3cr3t@db.internal/tandem");
	char *r = config_redact_url(c.database_url);
	assert_string_equal(r, "postgresql://app:***@db.internal/tandem");
	free(r);
	config_free(&c);
	clear_env();
	r = config_redact_url("host=/var/run dbname=t user=u password='a b\\'c' sslmode=require");
	assert_string_equal(r, "host=/var/run dbname=t user=u password=*** sslmode=require");
	free(r);
	r = config_redact_url("host=x password=plain");
	assert_string_equal(r, "host=x password=***");
	free(r);
	r = config_redact_url("postgresql://app@db.internal/tandem?sslmode=require&password=s3cr3t&x=1");
	assert_string_equal(r, "postgresql://app@db.internal/tandem?sslmode=require&password=***&x=1");
	free(r);
	r = config_redact_url("postgresql:///tandem?host=/run/pg&password=s3cr3t");
	assert_string_equal(r, "postgresql:///tandem?host=/run/pg&password=***");
	free(r);
	r = config_redact_url("postgres://u:p%40ss@h:5432/d?password=again");
	assert_string_equal(r, "postgres://u:***@h:5432/d?password=***");
	free(r);
	r = config_redact_url("host=/tmp dbname=tandem");
	assert_string_equal(r, "host=/tmp dbname=tandem");
	free(r);
}

int main(void)
{
	assert_non_null(mkdtemp(dir));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_file_env),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_secret_file_and_redaction),
	};
	int rc = cmocka_run_group_tests_name("config", tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
