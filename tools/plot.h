/* plot.h: a tiny raster plotting module for the pathint tools and examples.
 *
 * An RGB canvas, blended dots, lines, rectangles, a built-in 5x7 bitmap font,
 * panels that map data coordinates to pixels, and PNG output through libpng
 * (when the build found it; otherwise plot_write_png() reports that PNG
 * output is unavailable and plot_write_ppm() still works).
 */
#ifndef PATHINT_TOOLS_PLOT_H
#define PATHINT_TOOLS_PLOT_H

#include <stddef.h>
#include <stdint.h>

/** Colours are 0xRRGGBB. */
typedef struct plot_canvas {
    int width, height;
    unsigned char *rgb; /* width * height * 3 bytes, row-major, top row first */
} plot_canvas;

/** A rectangle of the canvas showing [xmin, xmax] × [ymin, ymax] (y grows upward). */
typedef struct plot_panel {
    int x, y, width, height; /* pixel rectangle */
    double xmin, xmax, ymin, ymax;
} plot_panel;

int plot_canvas_init(plot_canvas *canvas, int width, int height, uint32_t background);
void plot_canvas_free(plot_canvas *canvas);

void plot_fill_rect(plot_canvas *canvas, int x0, int y0, int x1, int y1, uint32_t colour);
void plot_rect_outline(plot_canvas *canvas, int x0, int y0, int x1, int y1, uint32_t colour);
/** A disc of radius r (pixels) blended with opacity alpha in [0, 1]. */
void plot_dot(plot_canvas *canvas, double x, double y, double r, uint32_t colour, double alpha);
/** A line of the given thickness (pixels), anti-aliased by coverage of round caps. */
void plot_line(plot_canvas *canvas, double x0, double y0, double x1, double y1, double thickness,
               uint32_t colour);

/** Text in the built-in font (ASCII, plus UTF-8 "ħ" and "≈"); scale >= 1. */
void plot_text(plot_canvas *canvas, int x, int y, const char *text, int scale, uint32_t colour);
int plot_text_width(const char *text, int scale);
int plot_text_height(int scale);

/** Data to pixel coordinates of a panel. */
double plot_panel_px(const plot_panel *panel, double x);
double plot_panel_py(const plot_panel *panel, double y);
/** Frame and title (centred above the frame); title may be NULL. */
void plot_panel_frame(plot_canvas *canvas, const plot_panel *panel, const char *title);
/** Tick marks and labels on the bottom and left edges (nx, ny ticks; 0 for none). */
void plot_panel_ticks(plot_canvas *canvas, const plot_panel *panel, int nx, int ny);
/** Scatter of the first two coordinates of n points of dimension dim (>= 2), clipped to the panel. */
void plot_scatter(plot_canvas *canvas, const plot_panel *panel, size_t n, size_t dim,
                  const float *points, double radius, uint32_t colour, double alpha);
/** A polyline through n points (xs[i], ys[i]), clipped to the panel. */
void plot_polyline(plot_canvas *canvas, const plot_panel *panel, size_t n, const double *xs,
                   const double *ys, double thickness, uint32_t colour);

/** Write the canvas; 0 on success, -1 with a message in err. Atomic (temporary file + rename). */
int plot_write_png(const plot_canvas *canvas, const char *path, char *err, size_t errlen);
int plot_write_ppm(const plot_canvas *canvas, const char *path, char *err, size_t errlen);
/** 1 if this build can write PNG. */
int plot_have_png(void);

#endif
