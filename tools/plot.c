/* plot.c: see plot.h. Small on purpose: enough for scatter panels and one line chart. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PLOT_HAVE_PNG
#include <png.h>
#endif

int plot_canvas_init(plot_canvas *canvas, int width, int height, uint32_t background)
{
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
        return -1;
    /* Zeroed: the background fill blends into the pixels, so they must be defined first. */
    canvas->rgb = calloc((size_t)width * (size_t)height, 3);
    if (!canvas->rgb)
        return -1;
    canvas->width = width;
    canvas->height = height;
    plot_fill_rect(canvas, 0, 0, width - 1, height - 1, background);
    return 0;
}

void plot_canvas_free(plot_canvas *canvas)
{
    free(canvas->rgb);
    canvas->rgb = NULL;
}

static void blend(plot_canvas *canvas, int x, int y, uint32_t colour, double alpha)
{
    if (x < 0 || y < 0 || x >= canvas->width || y >= canvas->height || alpha <= 0.0)
        return;
    if (alpha > 1.0)
        alpha = 1.0;
    unsigned char *p = canvas->rgb + ((size_t)y * (size_t)canvas->width + (size_t)x) * 3;
    const double c[3] = {(colour >> 16) & 0xff, (colour >> 8) & 0xff, colour & 0xff};
    for (int i = 0; i < 3; i++)
        p[i] = (unsigned char)lround(p[i] + alpha * (c[i] - p[i]));
}

void plot_fill_rect(plot_canvas *canvas, int x0, int y0, int x1, int y1, uint32_t colour)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            blend(canvas, x, y, colour, 1.0);
}

void plot_rect_outline(plot_canvas *canvas, int x0, int y0, int x1, int y1, uint32_t colour)
{
    plot_fill_rect(canvas, x0, y0, x1, y0, colour);
    plot_fill_rect(canvas, x0, y1, x1, y1, colour);
    plot_fill_rect(canvas, x0, y0, x0, y1, colour);
    plot_fill_rect(canvas, x1, y0, x1, y1, colour);
}

static double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

void plot_dot(plot_canvas *canvas, double x, double y, double r, uint32_t colour, double alpha)
{
    int xa = (int)floor(x - r - 1), xb = (int)ceil(x + r + 1);
    int ya = (int)floor(y - r - 1), yb = (int)ceil(y + r + 1);
    for (int py = ya; py <= yb; py++)
        for (int px = xa; px <= xb; px++) {
            double d = hypot(px + 0.5 - x, py + 0.5 - y);
            blend(canvas, px, py, colour, alpha * clamp01(r + 0.5 - d));
        }
}

void plot_line(plot_canvas *canvas, double x0, double y0, double x1, double y1, double thickness,
               uint32_t colour)
{
    double half = thickness / 2.0;
    int xa = (int)floor(fmin(x0, x1) - half - 1), xb = (int)ceil(fmax(x0, x1) + half + 1);
    int ya = (int)floor(fmin(y0, y1) - half - 1), yb = (int)ceil(fmax(y0, y1) + half + 1);
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int py = ya; py <= yb; py++)
        for (int px = xa; px <= xb; px++) {
            double cx = px + 0.5, cy = py + 0.5;
            double s = len2 > 0 ? ((cx - x0) * dx + (cy - y0) * dy) / len2 : 0.0;
            s = clamp01(s);
            double d = hypot(cx - (x0 + s * dx), cy - (y0 + s * dy));
            blend(canvas, px, py, colour, clamp01(half + 0.5 - d));
        }
}

/* ---- 5x7 font: 7 rows per glyph, bit 4 is the leftmost pixel. ---- */
enum { GLYPH_HBAR = 1, GLYPH_APPROX = 2, GLYPH_PLUSMINUS = 3 };
static const unsigned char font[128][7] = {
    [GLYPH_HBAR] = {0x08, 0x1C, 0x08, 0x0E, 0x09, 0x09, 0x09},
    [GLYPH_APPROX] = {0x00, 0x08, 0x15, 0x02, 0x08, 0x15, 0x02},
    [GLYPH_PLUSMINUS] = {0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x1F},
    ['0'] = {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},
    ['1'] = {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    ['2'] = {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},
    ['3'] = {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    ['4'] = {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},
    ['5'] = {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    ['6'] = {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},
    ['7'] = {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    ['8'] = {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},
    ['9'] = {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    ['A'] = {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
    ['B'] = {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
    ['C'] = {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},
    ['D'] = {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
    ['E'] = {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},
    ['F'] = {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
    ['G'] = {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},
    ['H'] = {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
    ['I'] = {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
    ['J'] = {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
    ['K'] = {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
    ['L'] = {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
    ['M'] = {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},
    ['N'] = {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
    ['O'] = {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    ['P'] = {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
    ['Q'] = {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},
    ['R'] = {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
    ['S'] = {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
    ['T'] = {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
    ['U'] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    ['V'] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
    ['W'] = {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},
    ['X'] = {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
    ['Y'] = {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},
    ['Z'] = {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
    ['a'] = {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F},
    ['b'] = {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E},
    ['c'] = {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E},
    ['d'] = {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F},
    ['e'] = {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},
    ['f'] = {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08},
    ['g'] = {0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},
    ['h'] = {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},
    ['i'] = {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E},
    ['j'] = {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C},
    ['k'] = {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},
    ['l'] = {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
    ['m'] = {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11},
    ['n'] = {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},
    ['o'] = {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E},
    ['p'] = {0x1E, 0x11, 0x11, 0x11, 0x1E, 0x10, 0x10},
    ['q'] = {0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x01},
    ['r'] = {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},
    ['s'] = {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E},
    ['t'] = {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06},
    ['u'] = {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D},
    ['v'] = {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04},
    ['w'] = {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A},
    ['x'] = {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11},
    ['y'] = {0x11, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},
    ['z'] = {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F},
    ['.'] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},
    [','] = {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},
    ['-'] = {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
    ['+'] = {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},
    ['='] = {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},
    [':'] = {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},
    ['('] = {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
    [')'] = {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
    ['/'] = {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},
    ['%'] = {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
    ['_'] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},
    ['*'] = {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00},
    ['\''] = {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},
};

/* Next glyph index of a UTF-8 string; advances *s. Unknown code points give ' '. */
static int next_glyph(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    if (p[0] < 0x80) {
        *s += 1;
        return p[0];
    }
    if (p[0] == 0xC4 && p[1] == 0xA7) { /* U+0127 ħ */
        *s += 2;
        return GLYPH_HBAR;
    }
    if (p[0] == 0xC2 && p[1] == 0xB1) { /* U+00B1 ± */
        *s += 2;
        return GLYPH_PLUSMINUS;
    }
    if (p[0] == 0xE2 && p[1] == 0x89 && p[2] == 0x88) { /* U+2248 ≈ */
        *s += 3;
        return GLYPH_APPROX;
    }
    if (p[0] == 0xE2 && p[1] == 0x88 && p[2] == 0x92) { /* U+2212 minus */
        *s += 3;
        return '-';
    }
    /* Skip one whole UTF-8 sequence. */
    size_t len = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 1;
    for (size_t i = 1; i < len; i++)
        if (p[i] == 0) {
            len = i;
            break;
        }
    *s += len;
    return ' ';
}

int plot_text_width(const char *text, int scale)
{
    int n = 0;
    while (*text) {
        next_glyph(&text);
        n++;
    }
    return n > 0 ? (6 * n - 1) * scale : 0;
}

int plot_text_height(int scale) { return 7 * scale; }

void plot_text(plot_canvas *canvas, int x, int y, const char *text, int scale, uint32_t colour)
{
    while (*text) {
        int g = next_glyph(&text);
        /* g, p, q, y are stored from the x-height down and hang two rows below the line. */
        int drop = (g == 'g' || g == 'p' || g == 'q' || g == 'y') ? 2 * scale : 0;
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (font[g][row] & (0x10 >> col))
                    plot_fill_rect(canvas, x + col * scale, y + drop + row * scale,
                                   x + (col + 1) * scale - 1, y + drop + (row + 1) * scale - 1, colour);
        x += 6 * scale;
    }
}

/* ---- panels ---- */
double plot_panel_px(const plot_panel *panel, double x)
{
    return panel->x + (x - panel->xmin) / (panel->xmax - panel->xmin) * panel->width;
}

double plot_panel_py(const plot_panel *panel, double y)
{
    return panel->y + panel->height - (y - panel->ymin) / (panel->ymax - panel->ymin) * panel->height;
}

void plot_panel_frame(plot_canvas *canvas, const plot_panel *panel, const char *title)
{
    plot_rect_outline(canvas, panel->x - 1, panel->y - 1, panel->x + panel->width,
                      panel->y + panel->height, 0x404040);
    if (title) {
        int w = plot_text_width(title, 2);
        plot_text(canvas, panel->x + (panel->width - w) / 2, panel->y - 22, title, 2, 0x202020);
    }
}

static void format_tick(char *buf, size_t len, double v, double step)
{
    int decimals = step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;
    if (fabs(v) < step * 1e-6)
        v = 0.0;
    snprintf(buf, len, "%.*f", decimals, v);
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks. */
static double nice_step(double range, int n)
{
    double raw = range / (n > 0 ? n : 1);
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

void plot_panel_ticks(plot_canvas *canvas, const plot_panel *panel, int nx, int ny)
{
    char buf[32];
    if (nx > 0) {
        double step = nice_step(panel->xmax - panel->xmin, nx);
        for (double v = ceil(panel->xmin / step) * step; v <= panel->xmax + step * 1e-9; v += step) {
            int px = (int)lround(plot_panel_px(panel, v));
            int y0 = panel->y + panel->height;
            plot_fill_rect(canvas, px, y0, px, y0 + 4, 0x404040);
            format_tick(buf, sizeof buf, v, step);
            plot_text(canvas, px - plot_text_width(buf, 1) / 2, y0 + 7, buf, 1, 0x202020);
        }
    }
    if (ny > 0) {
        double step = nice_step(panel->ymax - panel->ymin, ny);
        for (double v = ceil(panel->ymin / step) * step; v <= panel->ymax + step * 1e-9; v += step) {
            int py = (int)lround(plot_panel_py(panel, v));
            plot_fill_rect(canvas, panel->x - 5, py, panel->x - 1, py, 0x404040);
            format_tick(buf, sizeof buf, v, step);
            plot_text(canvas, panel->x - 8 - plot_text_width(buf, 1), py - 3, buf, 1, 0x202020);
        }
    }
}

void plot_scatter(plot_canvas *canvas, const plot_panel *panel, size_t n, size_t dim,
                  const float *points, double radius, uint32_t colour, double alpha)
{
    if (dim < 2)
        return;
    for (size_t i = 0; i < n; i++) {
        double x = points[i * dim], y = points[i * dim + 1];
        if (!(x >= panel->xmin && x <= panel->xmax && y >= panel->ymin && y <= panel->ymax))
            continue;
        plot_dot(canvas, plot_panel_px(panel, x), plot_panel_py(panel, y), radius, colour, alpha);
    }
}

void plot_polyline(plot_canvas *canvas, const plot_panel *panel, size_t n, const double *xs,
                   const double *ys, double thickness, uint32_t colour)
{
    for (size_t i = 0; i + 1 < n; i++) {
        double ax = plot_panel_px(panel, xs[i]), ay = plot_panel_py(panel, ys[i]);
        double bx = plot_panel_px(panel, xs[i + 1]), by = plot_panel_py(panel, ys[i + 1]);
        double top = panel->y, bottom = panel->y + panel->height;
        if ((ay < top && by < top) || (ay > bottom && by > bottom) || !isfinite(ay) || !isfinite(by))
            continue;
        plot_line(canvas, ax, ay, bx, by, thickness, colour);
    }
}

/* ---- output ---- */
static int temp_name(char *buf, size_t len, const char *path, char *err, size_t errlen)
{
    if ((size_t)snprintf(buf, len, "%s.tmp", path) >= len) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    return 0;
}

static int finish_file(FILE *f, const char *tmp, const char *path, char *err, size_t errlen)
{
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int plot_write_ppm(const plot_canvas *canvas, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    if (temp_name(tmp, sizeof tmp, path, err, errlen))
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "P6\n%d %d\n255\n", canvas->width, canvas->height);
    size_t bytes = (size_t)canvas->width * (size_t)canvas->height * 3;
    if (fwrite(canvas->rgb, 1, bytes, f) != bytes) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        fclose(f);
        remove(tmp);
        return -1;
    }
    return finish_file(f, tmp, path, err, errlen);
}

#ifdef PLOT_HAVE_PNG
int plot_have_png(void) { return 1; }

int plot_write_png(const plot_canvas *canvas, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    if (temp_name(tmp, sizeof tmp, path, err, errlen))
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        remove(tmp);
        snprintf(err, errlen, "out of memory writing %s", path);
        return -1;
    }
    /* Nothing set between here and the longjmp target is read after it. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(tmp);
        snprintf(err, errlen, "libpng failed writing %s", path);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)canvas->width, (png_uint_32)canvas->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < canvas->height; y++)
        png_write_row(png, canvas->rgb + (size_t)y * (size_t)canvas->width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return finish_file(f, tmp, path, err, errlen);
}
#else
int plot_have_png(void) { return 0; }

int plot_write_png(const plot_canvas *canvas, const char *path, char *err, size_t errlen)
{
    (void)canvas;
    snprintf(err, errlen, "cannot write %s: this build has no PNG support (libpng was not found); "
                          "use a .ppm file name instead", path);
    return -1;
}
#endif
