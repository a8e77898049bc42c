"""Draws the app icons (客 on the brand colour) with Pillow and the WenQuanYi font; run once."""
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = Path(__file__).resolve().parent.parent / "kq" / "static" / "icons"
BRAND = (180, 35, 90)


def icon(size, maskable):
    img = Image.new("RGBA", (size, size), BRAND if maskable else (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if not maskable:
        draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=BRAND)
    # Maskable icons keep the glyph inside the central 80% safe zone.
    glyph = int(size * (0.5 if maskable else 0.62))
    font = ImageFont.truetype(FONT, glyph)
    draw.text((size / 2, size / 2), "客", font=font, fill="white", anchor="mm")
    return img


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, False).save(OUT / "icon-192.png", optimize=True)
    icon(512, False).save(OUT / "icon-512.png", optimize=True)
    icon(512, True).save(OUT / "maskable-512.png", optimize=True)
