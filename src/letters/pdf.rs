//! The PDF side of the letter: the embedded fonts (DejaVu Sans, subset, as CID fonts with a
//! ToUnicode map so the text can be searched and copied) and the writing of laid-out pages.
//! Coordinates are PDF points (1/72 inch), origin at the bottom left; they are layout, not money.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use pdf_writer::types::{
    ActionType, AnnotationType, CidFontType, FontFlags, SystemInfo, UnicodeCmap,
};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

/// A4 width in points (210 mm).
pub(super) const PAGE_WIDTH: f32 = 595.28;
/// A4 height in points (297 mm).
pub(super) const PAGE_HEIGHT: f32 = 841.89;

static REGULAR_TTF: &[u8] = include_bytes!("../../config/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../config/fonts/DejaVuSans-Bold.ttf");

/// The two faces the letter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Font {
    Regular,
    Bold,
}

impl Font {
    const ALL: [Font; 2] = [Font::Regular, Font::Bold];

    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    /// Subset tag (six capitals, as the PDF specification asks) and PostScript name.
    fn base_name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"RLNCAA+DejaVuSans"),
            Font::Bold => Name(b"RLNCAB+DejaVuSans-Bold"),
        }
    }

    fn data(self) -> &'static [u8] {
        match self {
            Font::Regular => REGULAR_TTF,
            Font::Bold => BOLD_TTF,
        }
    }
}

/// Parsed faces, for measuring text and for embedding.
pub(super) struct Fonts {
    regular: Face<'static>,
    bold: Face<'static>,
}

impl Fonts {
    pub(super) fn load() -> Result<Self, String> {
        let parse = |font: Font| {
            Face::parse(font.data(), 0).map_err(|e| format!("embedded font {font:?}: {e}"))
        };
        Ok(Fonts {
            regular: parse(Font::Regular)?,
            bold: parse(Font::Bold)?,
        })
    }

    fn face(&self, font: Font) -> &Face<'static> {
        match font {
            Font::Regular => &self.regular,
            Font::Bold => &self.bold,
        }
    }

    /// Whether both faces have a glyph for `c`.
    pub(super) fn has(&self, c: char) -> bool {
        self.regular.glyph_index(c).is_some() && self.bold.glyph_index(c).is_some()
    }

    /// Width of `text` set in `font` at `size` points (no kerning).
    pub(super) fn width(&self, font: Font, size: f32, text: &str) -> f32 {
        let face = self.face(font);
        let units: u32 = text
            .chars()
            .map(|c| {
                let gid = face.glyph_index(c).unwrap_or(GlyphId(0));
                u32::from(face.glyph_hor_advance(gid).unwrap_or(0))
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em())
    }
}

/// One drawing operation on a page.
#[derive(Debug, Clone)]
pub(super) enum Op {
    /// Text with its baseline starting at (x, y); `gray` 0 is black.
    Text {
        font: Font,
        size: f32,
        x: f32,
        y: f32,
        gray: f32,
        text: String,
    },
    /// A stroked line.
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
    /// A filled rectangle, (x, y) its bottom-left corner.
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
    /// A clickable area opening `url`.
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        url: String,
    },
}

/// Glyphs used by one face: remapping to the subset's glyph ids, and the character each
/// new id stands for (for the ToUnicode map).
struct Used {
    remapper: GlyphRemapper,
    chars: BTreeMap<u16, char>,
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// Writes the pages as a PDF 1.7 file with the fonts subset and embedded.
pub(super) fn write(
    fonts: &Fonts,
    pages: &[Vec<Op>],
    title: &str,
    date: NaiveDate,
) -> Result<Vec<u8>, String> {
    // Pass 1: the glyphs each face needs.
    let mut used: BTreeMap<Font, Used> = BTreeMap::new();
    for font in Font::ALL {
        let mut remapper = GlyphRemapper::new();
        remapper.remap(0); // .notdef stays glyph 0
        used.insert(
            font,
            Used {
                remapper,
                chars: BTreeMap::new(),
            },
        );
    }
    for op in pages.iter().flatten() {
        if let Op::Text { font, text, .. } = op {
            let face = fonts.face(*font);
            let u = used.get_mut(font).expect("all fonts inserted");
            for c in text.chars() {
                let gid = face.glyph_index(c).map_or(0, |g| g.0);
                let new = u.remapper.remap(gid);
                if gid != 0 {
                    u.chars.entry(new).or_insert(c);
                }
            }
        }
    }

    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog_id = alloc();
    let tree_id = alloc();
    let info_id = alloc();
    let font_ids: BTreeMap<Font, [Ref; 5]> = Font::ALL
        .iter()
        .map(|f| (*f, [alloc(), alloc(), alloc(), alloc(), alloc()]))
        .collect();
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|(p, _)| *p))
        .count(pages.len() as i32);
    pdf.document_info(info_id)
        .title(TextStr(title))
        .producer(TextStr("Relance"))
        .creation_date(
            pdf_writer::Date::new(date.year().clamp(0, 9999) as u16)
                .month(date.month() as u8)
                .day(date.day() as u8),
        );

    for (ops, (page_id, content_id)) in pages.iter().zip(&page_ids) {
        let mut content = Content::new();
        let mut links = Vec::new();
        for op in ops {
            match op {
                Op::Text {
                    font,
                    size,
                    x,
                    y,
                    gray,
                    text,
                } => {
                    let face = fonts.face(*font);
                    let u = &used[font];
                    let mut encoded = Vec::with_capacity(text.len() * 2);
                    for c in text.chars() {
                        let gid = face.glyph_index(c).map_or(0, |g| g.0);
                        let new = u.remapper.get(gid).unwrap_or(0);
                        encoded.extend_from_slice(&new.to_be_bytes());
                    }
                    content
                        .begin_text()
                        .set_fill_gray(*gray)
                        .set_font(font.resource(), *size)
                        .set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, *y])
                        .show(Str(&encoded))
                        .end_text();
                }
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                } => {
                    content
                        .set_line_width(*width)
                        .set_stroke_gray(0.0)
                        .move_to(*x1, *y1)
                        .line_to(*x2, *y2)
                        .stroke();
                }
                Op::Fill { x, y, w, h, gray } => {
                    content
                        .set_fill_gray(*gray)
                        .rect(*x, *y, *w, *h)
                        .fill_nonzero()
                        .set_fill_gray(0.0);
                }
                Op::Link { x, y, w, h, url } => links.push((Rect::new(*x, *y, x + w, y + h), url)),
            }
        }
        let stream = deflate(&content.finish().into_vec());
        pdf.stream(*content_id, &stream).filter(Filter::FlateDecode);

        let link_ids: Vec<Ref> = links.iter().map(|_| alloc()).collect();
        for (id, (rect, url)) in link_ids.iter().zip(&links) {
            let mut annot = pdf.annotation(*id);
            annot
                .subtype(AnnotationType::Link)
                .rect(*rect)
                .border(0.0, 0.0, 0.0, None);
            annot
                .action()
                .action_type(ActionType::Uri)
                .uri(Str(url.as_bytes()));
        }

        let mut page = pdf.page(*page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(*content_id);
        if !link_ids.is_empty() {
            page.annotations(link_ids.iter().copied());
        }
        let mut resources = page.resources();
        let mut dict = resources.fonts();
        for font in Font::ALL {
            dict.pair(font.resource(), font_ids[&font][0]);
        }
    }

    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    for font in Font::ALL {
        let [type0_id, cid_id, descriptor_id, file_id, cmap_id] = font_ids[&font];
        let face = fonts.face(font);
        let u = &used[&font];
        let per_em = f32::from(face.units_per_em());
        let scale = |v: i16| f32::from(v) * 1000.0 / per_em;

        pdf.type0_font(type0_id)
            .base_font(font.base_name())
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);

        let widths: Vec<f32> = u
            .remapper
            .remapped_gids()
            .map(|old| {
                f32::from(face.glyph_hor_advance(GlyphId(old)).unwrap_or(0)) * 1000.0 / per_em
            })
            .collect();
        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(CidFontType::Type2)
            .base_font(font.base_name())
            .system_info(system_info)
            .font_descriptor(descriptor_id)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths().consecutive(0, widths);
        cid.finish();

        let bbox = face.global_bounding_box();
        let mut flags = FontFlags::NON_SYMBOLIC;
        if font == Font::Bold {
            flags |= FontFlags::FORCE_BOLD;
        }
        pdf.font_descriptor(descriptor_id)
            .name(font.base_name())
            .flags(flags)
            .bbox(Rect::new(
                scale(bbox.x_min),
                scale(bbox.y_min),
                scale(bbox.x_max),
                scale(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(scale(face.ascender()))
            .descent(scale(face.descender()))
            .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
            .stem_v(if font == Font::Bold { 140.0 } else { 80.0 })
            .font_file2(file_id);

        let subset = subsetter::subset(font.data(), 0, &u.remapper)
            .map_err(|e| format!("subsetting font {font:?}: {e}"))?;
        let compressed = deflate(&subset);
        pdf.stream(file_id, &compressed)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), subset.len() as i32);

        let mut cmap = UnicodeCmap::new(Name(b"Relance-UCS"), system_info);
        for (gid, c) in &u.chars {
            cmap.pair(*gid, *c);
        }
        let cmap = cmap.finish().into_vec();
        pdf.cmap(cmap_id, &cmap);
    }

    Ok(pdf.finish())
}
